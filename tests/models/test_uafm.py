import numpy as np
import paddle
import pytest
from paddleseg.models import layers
from paddleseg.models.layers import tensor_fusion_helper

from paddleseg_liteseg import UAFM
from paddleseg_liteseg.models.uafm import mean_and_max_over_channels
from paddleseg_liteseg.weights.layouts import convert_official


def _pair(batch=2, low_channels=16, high_channels=24, low_hw=(12, 17), high_hw=(6, 9)):
    paddle.seed(1)
    return (paddle.randn([batch, low_channels, *low_hw]), paddle.randn([batch, high_channels, *high_hw]))


@pytest.mark.parametrize("attention", ["spatial", "channel", "none"])
def test_output_takes_low_resolution_and_out_channels(attention):
    low, high = _pair()
    out = UAFM(16, 24, 8, attention=attention)(low, high)
    assert out.shape == [2, 8, 12, 17]


@pytest.mark.parametrize("attention, alpha_shape", [("spatial", [2, 1, 12, 17]),
                                                     ("channel", [2, 24, 1, 1])])
def test_alpha_is_a_weight_in_unit_interval(attention, alpha_shape):
    low, high = _pair()
    module = UAFM(16, 24, 8, attention=attention)
    for training in (True, False):
        module.train() if training else module.eval()
        projected = module.conv_low(low)
        high_up = paddle.nn.functional.interpolate(high, projected.shape[2:], mode="bilinear")
        alpha = module.attention(projected, high_up).numpy()
        assert list(alpha.shape) == alpha_shape
        assert alpha.min() >= 0 and alpha.max() <= 1 and alpha.std() > 0


def test_alpha_one_keeps_only_the_high_level_feature():
    """out = conv_out(high_up * alpha + low * (1 - alpha)); force alpha = 1 through the last BN bias."""
    low, high = _pair()
    module = UAFM(16, 24, 8, attention="spatial")
    module.eval()
    module.attention.layers[1]._batch_norm.bias.set_value(paddle.full([1], -100.0))
    projected = module.conv_low(low)
    high_up = paddle.nn.functional.interpolate(high, projected.shape[2:], mode="bilinear")
    np.testing.assert_allclose(module(low, high).numpy(), module.conv_out(high_up).numpy(), atol=1e-5)
    module.attention.layers[1]._batch_norm.bias.set_value(paddle.full([1], 100.0))
    np.testing.assert_allclose(module(low, high).numpy(), module.conv_out(projected).numpy(), atol=1e-5)


@pytest.mark.parametrize("attention, reference_class", [("spatial", layers.UAFM_SpAtten),
                                                        ("channel", layers.UAFM_ChAtten),
                                                        ("none", layers.UAFM)])
def test_matches_paddleseg_uafm_variants(attention, reference_class):
    low, high = _pair()
    reference = reference_class(16, 24, 8)
    module = UAFM(16, 24, 8, attention=attention)
    prefix = "ppseg_head.arm_list.0."
    official = {prefix + key: value.numpy() for key, value in reference.state_dict().items()}
    state = {key[len("decoder.fusions.0."):]: value for key, value in convert_official(official).items()}
    assert set(state) == set(module.state_dict())
    module.set_state_dict(state)
    for training in (True, False):
        reference.train() if training else reference.eval()
        module.train() if training else module.eval()
        np.testing.assert_allclose(module(low, high).numpy(), reference(low, high).numpy(), atol=1e-5)


def test_unknown_attention_is_rejected():
    with pytest.raises(ValueError, match="attention must be one of"):
        UAFM(16, 24, 8, attention="spatail")


def _leaves(*tensors):
    for tensor in tensors:
        tensor.stop_gradient = False
    return tensors


@pytest.mark.parametrize("training", [True, False])
def test_channel_statistics_match_paddleseg_in_value_and_gradient(training):
    """Random floats have no tied maxima, where the gradient conventions could differ."""
    low, high = _leaves(*_pair(high_channels=16, high_hw=(12, 17)))
    weights = paddle.randn([2, 4, 12, 17])
    grads = []
    for reduce in (lambda features: mean_and_max_over_channels(features, training),
                   tensor_fusion_helper.avg_max_reduce_channel):
        stats = reduce([low, high])
        (stats * weights).sum().backward()
        grads.append((stats.numpy(), low.grad.numpy().copy(), high.grad.numpy().copy()))
        low.clear_gradient(), high.clear_gradient()
    for ours, paddleseg in zip(*grads):
        np.testing.assert_allclose(ours, paddleseg, rtol=1e-5, atol=1e-6)


def test_spatial_uafm_trains_with_paddleseg_gradients():
    """Training-mode forward within 1e-5 and every input and parameter gradient within 1e-4
    (relative) of PaddleSeg's UAFM_SpAtten holding the same weights."""
    low, high = _leaves(*_pair())
    reference, module = layers.UAFM_SpAtten(16, 24, 8), UAFM(16, 24, 8, attention="spatial")
    official = {"ppseg_head.arm_list.0." + key: value.numpy() for key, value in reference.state_dict().items()}
    module.set_state_dict({key[len("decoder.fusions.0."):]: value
                           for key, value in convert_official(official).items()})
    weights = paddle.randn([2, 8, 12, 17])
    results = []
    for layer in (module, reference):
        layer.train()
        out = layer(low, high)
        (out * weights).sum().backward()
        gradients = {name: parameter.grad.numpy() for name, parameter in layer.named_parameters()
                     if parameter.grad is not None}
        results.append((out.numpy(), low.grad.numpy().copy(), high.grad.numpy().copy(), gradients))
        low.clear_gradient(), high.clear_gradient()
    (out, low_grad, high_grad, gradients), (ref_out, ref_low_grad, ref_high_grad, ref_gradients) = results
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    _assert_relatively_close(low_grad, ref_low_grad)
    _assert_relatively_close(high_grad, ref_high_grad)
    renamed = convert_official({"ppseg_head.arm_list.0." + name: value for name, value in ref_gradients.items()})
    assert len(gradients) == len(renamed) > 0
    for name, gradient in gradients.items():
        _assert_relatively_close(gradient, renamed["decoder.fusions.0." + name], name)


def _assert_relatively_close(actual, expected, name="", tolerance=1e-4):
    """Within ``tolerance`` of the expected tensor's largest magnitude (float sums in another order
    differ by rounding, which is large relative to elements that nearly cancel)."""
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance * np.abs(expected).max(), err_msg=name)
