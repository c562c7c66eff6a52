"""Inference backends behind one interface: ``runtime(batch)`` -> the model's first output, as numpy.

Each backend reads a directory written by ``paddleseg export`` (its ``deploy.yaml`` names the
files). ``auto`` takes the fastest backend that is installed and has its model file, in the order
measured on CPUs (see benchmarks/): onnxruntime, then OpenVINO, then Paddle Inference; for int8
OpenVINO, then onnxruntime. On a GPU, Paddle Inference (TensorRT where Paddle was built with it)
comes first.
"""
import importlib.util
import os

import numpy as np

from ..errors import UserError
from .export import ONNX_INT8_KEY

PRECISIONS = ("fp32", "fp16", "int8")
DEVICES = ("cpu", "gpu")


class BackendUnavailable(UserError):
    """A backend that is not installed or cannot run this model, device or precision."""


def default_threads():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def missing_package(module, extra):
    """Why ``module`` cannot be used (with the extra that installs it), or None when it is installed."""
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed: pip install 'paddleseg-liteseg[{extra}]'"
    return None


def _onnx_file(model_dir, deploy, precision):
    """The ONNX model for ``precision``, or None with the reason."""
    key = ONNX_INT8_KEY if precision == "int8" else "onnx"
    if key not in deploy:
        how = "--onnx --int8" if precision == "int8" else "--onnx"
        return None, f"{model_dir} has no {key} model: export with `paddleseg export {how}`"
    return os.path.join(model_dir, deploy[key]), None


class PaddleRuntime:
    """Paddle Inference. On CPU with oneDNN, minus ``onednn_placement_pass``.

    Paddle 3.3's oneDNN placement sends the bilinear resize to a oneDNN kernel that cannot take its
    attributes (``ConvertPirAttribute2RuntimeAttribute not support
    [pir::ArrayAttribute<pir::DoubleAttribute>]``); without that pass the resize runs on Paddle's
    CPU kernel and the convolutions still on oneDNN, about 3x faster than oneDNN off.
    ``enable_memory_optim()`` is not called: it makes ``create_predictor`` fail on this model.
    On GPU, TensorRT runs fp16 models exported with a fixed ``--input_shape`` where Paddle was
    built with it (a dynamic shape would need TensorRT shape ranges); other models run on CUDA.
    """

    name = "paddle"

    @staticmethod
    def unavailable(model_dir, deploy, device, precision):
        if precision == "int8":
            return "Paddle Inference int8 needs a quantization-aware model; use onnxruntime or openvino"
        if precision == "fp16" and device == "cpu":
            return "Paddle Inference fp16 runs on GPU only"
        if device == "gpu":
            import paddle
            if not paddle.is_compiled_with_cuda():
                return "this Paddle build has no CUDA: install paddlepaddle-gpu (see the README)"
        return None

    def __init__(self, model_dir, deploy, device="cpu", precision="fp32", threads=None, onednn=True):
        import paddle.inference as inference

        config = inference.Config(os.path.join(model_dir, deploy["model"]),
                                  os.path.join(model_dir, deploy["params"]))
        if device == "gpu":
            half = inference.PrecisionType.Half if precision == "fp16" else inference.PrecisionType.Float32
            config.enable_use_gpu(256, 0, half)
            static_shape = all(isinstance(size, int) and size > 0 for size in deploy.get("input_shape") or [None])
            if precision == "fp16" and static_shape and inference.get_trt_compile_version() > (0, 0, 0):
                config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=1,
                                              min_subgraph_size=3, precision_mode=half,
                                              use_static=False, use_calib_mode=False)
        else:
            config.disable_gpu()
            config.set_cpu_math_library_num_threads(threads or default_threads())
            if onednn:
                config.enable_onednn()
                config.delete_pass("onednn_placement_pass")
            else:
                config.disable_onednn()
        config.disable_glog_info()
        self.config = config
        self.predictor = inference.create_predictor(config)
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])

    def __call__(self, batch):
        self.input.reshape(batch.shape)
        self.input.copy_from_cpu(np.ascontiguousarray(batch, dtype="float32"))
        self.predictor.run()
        return self.output.copy_to_cpu()


class OnnxRuntime:
    """onnxruntime on the exported ONNX model (``model_int8.onnx`` for int8), all graph optimizations on.

    On a GPU it hands the model to TensorRT where onnxruntime has that provider (the paper's
    ONNX -> TensorRT route), else to CUDA.
    """

    name = "onnxruntime"
    GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")

    @staticmethod
    def unavailable(model_dir, deploy, device, precision):
        if precision == "fp16":
            return "onnxruntime runs fp32 and int8 models here; for fp16 use paddle (GPU) or openvino"
        missing = missing_package("onnxruntime", "onnx")
        if missing:
            return missing
        if device == "gpu":
            import onnxruntime
            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                return "onnxruntime has no CUDAExecutionProvider: install onnxruntime-gpu"
        return _onnx_file(model_dir, deploy, precision)[1]

    def __init__(self, model_dir, deploy, device="cpu", precision="fp32", threads=None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        providers = [provider for provider in self.GPU_PROVIDERS
                     if provider in onnxruntime.get_available_providers()] if device == "gpu" else []
        self.session = onnxruntime.InferenceSession(
            _onnx_file(model_dir, deploy, precision)[0], options,
            providers=providers + ["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch):
        return self.session.run(None, {self.input_name: np.asarray(batch, dtype="float32")})[0]


class OpenVINORuntime:
    """OpenVINO on the exported ONNX model (it cannot read Paddle 3's ``model.json``).

    Compiled once per input shape (static shapes run faster on OpenVINO's CPU plugin than a
    dynamic model); fp32 is requested explicitly, since OpenVINO may otherwise pick bf16.
    """

    name = "openvino"
    PRECISION_HINTS = {"fp32": "f32", "fp16": "f16", "int8": "f32"}  # int8 comes from the QDQ model

    @staticmethod
    def unavailable(model_dir, deploy, device, precision):
        if device != "cpu":
            return "the openvino backend runs on CPU here"
        return missing_package("openvino", "openvino") or _onnx_file(model_dir, deploy, precision)[1]

    def __init__(self, model_dir, deploy, device="cpu", precision="fp32", threads=None):
        import openvino

        self.core = openvino.Core()
        self.model = self.core.read_model(_onnx_file(model_dir, deploy, precision)[0])
        self.config = {"INFERENCE_NUM_THREADS": threads or default_threads(),
                       "PERFORMANCE_HINT": "LATENCY",
                       "INFERENCE_PRECISION_HINT": self.PRECISION_HINTS[precision]}
        self.compiled = {}

    def __call__(self, batch):
        shape = tuple(batch.shape)
        if shape not in self.compiled:
            model = self.model.clone()
            model.reshape({model.inputs[0].any_name: list(shape)})
            self.compiled[shape] = self.core.compile_model(model, "CPU", self.config)
        compiled = self.compiled[shape]
        return compiled(np.asarray(batch, dtype="float32"))[compiled.outputs[0]]


BACKENDS = {runtime.name: runtime for runtime in (PaddleRuntime, OnnxRuntime, OpenVINORuntime)}
# Measured on CPU (benchmarks/results.md, 512x1024): fp32 onnxruntime ~ OpenVINO, 1.5-2x Paddle Inference;
# int8 OpenVINO ~1.3x onnxruntime on the same QDQ model.
FASTEST_FIRST = {"cpu": ("onnxruntime", "openvino", "paddle"), "gpu": ("paddle", "onnxruntime")}
FASTEST_FIRST_INT8_CPU = ("openvino", "onnxruntime")


def choose_backend(model_dir, deploy, device="cpu", precision="fp32"):
    """The first backend, fastest first, that is installed and can run this model and precision."""
    reasons = []
    order = FASTEST_FIRST_INT8_CPU if (device, precision) == ("cpu", "int8") else FASTEST_FIRST[device]
    for name in order:
        reason = BACKENDS[name].unavailable(model_dir, deploy, device, precision)
        if reason is None:
            return name
        reasons.append(f"{name}: {reason}")
    raise BackendUnavailable(f"no backend can run {precision} on {device}: " + "; ".join(reasons))


def create_runtime(model_dir, deploy, backend="auto", device="cpu", precision="fp32", threads=None):
    """Build the runtime for ``backend`` ("auto" chooses); its ``name`` says which one it is."""
    if device not in DEVICES:
        raise UserError(f"--device must be one of {DEVICES}, got {device!r}")
    if precision not in PRECISIONS:
        raise UserError(f"--precision must be one of {PRECISIONS}, got {precision!r}")
    if backend == "auto":
        backend = choose_backend(model_dir, deploy, device, precision)
    if backend not in BACKENDS:
        raise UserError(f"--backend must be auto or one of {sorted(BACKENDS)}, got {backend!r}")
    runtime_class = BACKENDS[backend]
    reason = runtime_class.unavailable(model_dir, deploy, device, precision)
    if reason:
        raise BackendUnavailable(f"--backend {backend}: {reason}")
    return runtime_class(model_dir, deploy, device=device, precision=precision, threads=threads)
