"""resize_bilinear is F.interpolate's bilinear resize (align_corners=False): values and gradients."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddleseg_liteseg.models.resize import bilinear_weights, resize_bilinear


@pytest.mark.parametrize("in_size, out_size", [((8, 12), (64, 96)),  # the heads' x8
                                               ((4, 6), (128, 192)),  # x32
                                               ((7, 11), (60, 81)),  # ratios that are not integers
                                               ((30, 40), (15, 17)),  # downsampling
                                               ((1, 1), (5, 3)), ((5, 6), (5, 6))])
def test_values_and_gradients_are_interpolates(in_size, out_size):
    rng = np.random.default_rng(0)
    x = paddle.to_tensor(rng.standard_normal((2, 3, *in_size), dtype=np.float32))
    x.stop_gradient = False
    upstream = paddle.to_tensor(rng.standard_normal((2, 3, *out_size), dtype=np.float32))
    results = []
    for resize in (lambda: resize_bilinear(x, out_size),
                   lambda: F.interpolate(x, out_size, mode="bilinear", align_corners=False)):
        out = resize()
        out.backward(upstream)
        results.append((out.numpy(), x.grad.numpy().copy()))
        x.clear_gradient()
    (ours, our_grad), (paddles, paddles_grad) = results
    np.testing.assert_allclose(ours, paddles, rtol=0, atol=1e-5)
    np.testing.assert_allclose(our_grad, paddles_grad, rtol=0, atol=1e-4 * np.abs(paddles_grad).max())


def test_each_output_position_mixes_two_neighbours_with_weights_summing_to_one():
    weights = bilinear_weights(8, 64)
    assert np.allclose(weights.sum(axis=1), 1)
    assert ((weights > 0).sum(axis=1) <= 2).all()
