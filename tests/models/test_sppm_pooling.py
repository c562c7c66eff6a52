"""SPPM's matrix formulation of adaptive average pooling: the same numbers for any H, W and bins."""
import numpy as np
import paddle
import paddle.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from paddleseg_liteseg.models.sppm import SPPM, PyramidBranch, adaptive_average_matrix, matrix_pool, slice_pool


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 40), width=st.integers(1, 40), bins=st.integers(1, 8),
       seed=st.integers(0, 2 ** 16))
def test_matrix_pool_equals_adaptive_avg_pool2d(height, width, bins, seed):
    x = paddle.to_tensor(np.random.default_rng(seed).standard_normal((2, 3, height, width)).astype("float32"))
    pooled = matrix_pool(x, bins)
    np.testing.assert_allclose(pooled.numpy(), F.adaptive_avg_pool2d(x, bins).numpy(), rtol=1e-5, atol=1e-6)


@given(length=st.integers(1, 64), bins=st.integers(1, 8))
def test_matrix_rows_average_adaptive_pooling_bins(length, bins):
    """Row i is 1/count on [floor(i*L/b), ceil((i+1)*L/b)) and zero elsewhere."""
    matrix = adaptive_average_matrix(paddle.to_tensor(length, dtype="int64"), bins).numpy()
    for i, row in enumerate(matrix):
        start, end = (i * length) // bins, -(-(i + 1) * length // bins)
        expected = np.zeros(length, dtype="float32")
        expected[start:end] = 1.0 / (end - start)
        np.testing.assert_allclose(row, expected, rtol=1e-6)


def test_pool_follows_the_runtime_shape_in_a_static_graph():
    """One exported graph (dynamic H, W) pools inputs of different sizes as adaptive pooling does,
    with the matrix form: no adaptive pooling op in the graph."""
    branch = PyramidBranch(3, 4, 4)
    static_pool = paddle.jit.to_static(branch.pool, input_spec=[
        paddle.static.InputSpec([None, 3, None, None], "float32")], full_graph=True)
    for shape in ([1, 3, 16, 32], [2, 3, 7, 13]):
        x = paddle.randn(shape)
        np.testing.assert_allclose(static_pool(x).numpy(), F.adaptive_avg_pool2d(x, 4).numpy(), atol=1e-6)
    program = str(static_pool.concrete_program.main_program)
    assert "matmul" in program and "pool2d" not in program


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 40), width=st.integers(1, 40), bins=st.integers(1, 8),
       seed=st.integers(0, 2 ** 16))
def test_slice_pool_equals_adaptive_avg_pool2d(height, width, bins, seed):
    x = paddle.to_tensor(np.random.default_rng(seed).standard_normal((2, 3, height, width)).astype("float32"))
    np.testing.assert_allclose(slice_pool(x, bins, height, width).numpy(), F.adaptive_avg_pool2d(x, bins).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_a_fixed_shape_graph_pools_with_slices_and_resizes_to_constant_sizes():
    """Exported for a fixed H x W, SPPM pools by slices and means and reads no shape at run time:
    the graph that the device converters (pnnx, onnx2tf) convert exactly. Its numbers are the
    eager model's."""
    sppm = SPPM(8, inter_channels=4, out_channels=4)
    sppm.eval()
    x = paddle.randn([1, 8, 12, 15])
    eager = sppm(x).numpy()
    static = paddle.jit.to_static(sppm, input_spec=[paddle.static.InputSpec([1, 8, 12, 15], "float32")],
                                  full_graph=True)
    np.testing.assert_allclose(static(x).numpy(), eager, rtol=1e-5, atol=1e-5)
    program = str(static.forward.concrete_program.main_program)
    assert "slice" in program and "mean" in program
    assert "matmul" not in program and "pd_op.shape" not in program
