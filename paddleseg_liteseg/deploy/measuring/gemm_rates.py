"""Matrix-multiply rates: the ceiling a model's achieved GFLOP/s is compared with, per precision.

``gemm_gflops`` is the machine's fp32 rate by numpy's BLAS. ``runtime_gemm_rates`` measures one
square matrix multiply exported and run exactly as a model is (``export``, ``write_int8_models``,
``create_runtime``), so each backend x precision row of ``bench`` has the rate of its own kernels
at its own precision beside it: a bf16 or int8 model is judged against bf16 or int8 GEMM, not
against fp32.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import paddle

from ..running.inference_timing import seconds

GEMM_SIZE = 2048
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
GEMM_SCRIPT = """
import sys, time
import numpy as np
size, repeats = int(sys.argv[1]), int(sys.argv[2])
a, b = (np.random.default_rng(0).standard_normal((size, size), dtype=np.float32) for _ in range(2))
np.matmul(a, b)
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    np.matmul(a, b)
    best = min(best, time.perf_counter() - start)
print(2 * size ** 3 / best / 1e9)
"""


def gemm_gflops(threads, size=GEMM_SIZE, repeats=5, device="cpu"):
    """Best fp32 matrix-multiply rate (GFLOP/s): numpy's BLAS with ``threads`` threads, or the GPU's.

    On CPU it runs in a child process, where the BLAS thread count can be set before numpy loads.
    """
    if device == "gpu":
        a, b = (paddle.randn([size, size]) for _ in range(2))

        def multiply():
            paddle.matmul(a, b)
            paddle.device.synchronize()
        multiply()
        best = min(seconds(multiply) for _ in range(repeats))
        return 2 * size ** 3 / best / 1e9
    env = dict(os.environ, **{name: str(threads) for name in BLAS_THREAD_VARIABLES})
    result = subprocess.run([sys.executable, "-c", GEMM_SCRIPT, str(size), str(repeats)],
                            env=env, capture_output=True, text=True, check=True)
    return float(result.stdout)


class _MatMul(paddle.nn.Layer):
    """x (1, 1, size, size) times a constant (size, size) matrix: one GEMM, in a model's clothes."""

    def __init__(self, size):
        super().__init__()
        self.weight = self.create_parameter([size, size])

    def forward(self, x):
        return [paddle.matmul(x, self.weight)]


def runtime_gemm_rates(runtime_ids, threads, size=GEMM_SIZE, repeats=5, work_dir=None):
    """{RuntimeId: best GFLOP/s} of a size x size GEMM for each of ``runtime_ids`` that runs here
    (CPU); other runtimes (dygraph) and variants (oneDNN off) are left out."""
    from ..exporting.export import write_inference_model
    from ..int8.int8_choice import write_int8_models
    from ..running.runtimes import BACKENDS, BackendUnavailable, create_runtime

    wanted = [runtime_id for runtime_id in runtime_ids if runtime_id.backend in BACKENDS and not runtime_id.variant]
    if not wanted:
        return {}
    rng = np.random.default_rng(0)
    batch = rng.standard_normal((1, 1, size, size), dtype=np.float32)
    rates = {}
    with tempfile.TemporaryDirectory(dir=work_dir) as model_dir:
        with paddle.utils.unique_name.guard():
            layer = _MatMul(size)
        onnx = any(runtime_id.backend != "paddle" for runtime_id in wanted)
        exported = write_inference_model(layer, model_dir, [], input_shape=[1, 1, size, size], output_op="none",
                                         onnx=onnx)
        if any(runtime_id.precision == "int8" for runtime_id in wanted):
            exported = write_int8_models(exported, [batch[0]])
        for runtime_id in wanted:
            try:
                runtime = create_runtime(exported, runtime_id.backend, "cpu", runtime_id.precision, threads)
            except BackendUnavailable:
                continue
            runtime(batch)
            best = min(seconds(runtime, batch) for _ in range(repeats))
            rates[runtime_id] = 2 * size ** 3 / best / 1e9
    return rates
