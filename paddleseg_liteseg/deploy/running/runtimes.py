"""Inference backends behind one interface: ``runtime(batch)`` -> the model's first output, as numpy.

Each backend runs an ``ExportedModel`` (a directory written by ``paddleseg export``). Every backend is told its precision explicitly; fp32 runs in fp32 everywhere.
``choose_backend`` takes the first backend of a fixed fallback order that is installed and can run
the model and precision. Which backend is *fastest* depends on the CPU, so it is not decided here:
``paddleseg tune`` measures it, and ``runtime_choice`` uses that measurement or the CPU's
capabilities.
"""
import numpy as np

from ...cpu_settings import usable_cpus as default_threads  # a runtime's threads: every CPU this process may use
from ...errors import UserError
from .cpu_features import bf16_unavailable
from .device_runtimes import NcnnRuntime, TfliteRuntime
from .extras import missing_package
from ..exporting.exported_model import BackendUnavailable, MissingExportFile
from ..exporting.fixed_shape import FixedBatchRuntime
from ..exporting.model_files import MODEL_KEY, OPENVINO_INT8_KEY, PARAMS_KEY

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
DEVICES = ("cpu", "gpu")


def _missing_onnx(model, precision, int8_key=None):
    """The MissingExportFile saying why ``model`` has no ONNX file for ``precision`` (a reason that
    ``create_runtime`` raises as it is), or None."""
    try:
        model.onnx_file(precision, *([int8_key] if int8_key else []))
    except MissingExportFile as missing:
        return missing
    return None


class PaddleRuntime:
    """Paddle Inference. On CPU with oneDNN, minus ``onednn_placement_pass``; bf16 by oneDNN's bf16 passes.

    Paddle 3.3's oneDNN placement sends the bilinear resize to a oneDNN kernel that cannot take its
    attributes (``ConvertPirAttribute2RuntimeAttribute not support
    [pir::ArrayAttribute<pir::DoubleAttribute>]``); without that pass the resize runs on Paddle's
    CPU kernel and the convolutions still on oneDNN. fp32 stays fp32 (oneDNN picks bf16 only after
    ``enable_onednn_bfloat16()``); bf16 needs oneDNN and a CPU with bf16 instructions.
    ``enable_memory_optim()`` is not called: it makes ``create_predictor`` fail on this model.
    On GPU, TensorRT runs fp16 models exported with a fixed ``--input_shape`` where Paddle was
    built with it (a dynamic shape would need TensorRT shape ranges); other models run on CUDA.
    """

    name = "paddle"

    @staticmethod
    def unavailable(model, device, precision):
        if precision == "int8":
            return "Paddle Inference int8 needs a quantization-aware model; use onnxruntime or openvino"
        if precision == "fp16" and device == "cpu":
            return "Paddle Inference fp16 runs on GPU only"
        if precision == "bf16":
            return "Paddle Inference bf16 runs on CPU only" if device == "gpu" else bf16_unavailable()
        if device == "gpu":
            import paddle
            if not paddle.is_compiled_with_cuda():
                return "this Paddle build has no CUDA: install paddlepaddle-gpu (see the README)"
        return None

    def __init__(self, model, device="cpu", precision="fp32", threads=None, onednn=True,
                 tensorrt=None, min_subgraph_size=3, glog=False):
        """``tensorrt`` None uses TensorRT where it applies (see above), True requires it, False never;
        ``glog`` keeps Paddle's own log lines."""
        import paddle.inference as inference

        config = inference.Config(model.path(MODEL_KEY), model.path(PARAMS_KEY))
        if device == "gpu":
            half = inference.PrecisionType.Half if precision == "fp16" else inference.PrecisionType.Float32
            config.enable_use_gpu(256, 0, half)
            static_shape = model.fixed_shape is not None
            has_tensorrt = inference.get_trt_compile_version() > (0, 0, 0)
            if tensorrt and not (has_tensorrt and static_shape):
                raise BackendUnavailable("TensorRT needs a Paddle built with it and a model exported with a "
                                         "fixed --input_shape")
            if tensorrt or (tensorrt is None and precision == "fp16" and static_shape and has_tensorrt):
                config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=1,
                                              min_subgraph_size=min_subgraph_size, precision_mode=half,
                                              use_static=False, use_calib_mode=False)
        else:
            config.disable_gpu()
            config.set_cpu_math_library_num_threads(threads or default_threads())
            if onednn:
                config.enable_onednn()
                config.delete_pass("onednn_placement_pass")
            elif precision == "bf16":
                raise BackendUnavailable("Paddle Inference bf16 runs on oneDNN; it cannot be turned off")
            else:
                config.disable_onednn()
            if precision == "bf16":
                config.enable_onednn_bfloat16()
        if not glog:
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
    def unavailable(model, device, precision):
        if precision == "fp16":
            return "onnxruntime runs fp32 and int8 models here; for fp16 use paddle (GPU) or openvino"
        if precision == "bf16":
            if device == "gpu":
                return "onnxruntime runs fp32 and int8 models here; bf16 runs on CPU (openvino or paddle)"
            return ("onnxruntime's CPU provider has no bf16 kernels for this model (it runs fp32 and "
                    "int8 here); bf16 runs on openvino or paddle")
        missing = missing_package("onnxruntime", "onnx")
        if missing:
            return missing
        if device == "gpu":
            import onnxruntime
            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                return "onnxruntime has no CUDAExecutionProvider: install onnxruntime-gpu"
        return _missing_onnx(model, precision)

    def __init__(self, model, device="cpu", precision="fp32", threads=None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        providers = [provider for provider in self.GPU_PROVIDERS
                     if provider in onnxruntime.get_available_providers()] if device == "gpu" else []
        self.session = onnxruntime.InferenceSession(
            model.onnx_file(precision), options,
            providers=providers + ["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch):
        return self.session.run(None, {self.input_name: np.asarray(batch, dtype="float32")})[0]


class OpenVINORuntime:
    """OpenVINO on the exported ONNX model (it cannot read Paddle 3's ``model.json``); int8 on NNCF's
    model where export wrote one (``quantize``), else on onnxruntime's.

    Compiled once per input shape (static shapes run faster on OpenVINO's CPU plugin than a
    dynamic model); the precision hint is always set, since OpenVINO otherwise picks bf16 by itself
    on CPUs with bf16 instructions. bf16 is offered only on those CPUs.
    """

    name = "openvino"
    PRECISION_HINTS = {"fp32": "f32", "fp16": "f16", "bf16": "bf16", "int8": "f32"}  # int8: the QDQ model

    @staticmethod
    def unavailable(model, device, precision):
        if device != "cpu":
            return "the openvino backend runs on CPU here"
        if precision == "bf16" and bf16_unavailable():
            return bf16_unavailable()
        return missing_package("openvino", "openvino") or _missing_onnx(model, precision, OPENVINO_INT8_KEY)

    def __init__(self, model, device="cpu", precision="fp32", threads=None):
        import openvino

        self.core = openvino.Core()
        self.model = self.core.read_model(model.onnx_file(precision, OPENVINO_INT8_KEY))
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


BACKENDS = {runtime.name: runtime
            for runtime in (PaddleRuntime, OnnxRuntime, OpenVINORuntime, NcnnRuntime, TfliteRuntime)}
# The order in which backends are tried when nothing was measured on this machine: first the ones
# that run the exported ONNX model with their own graph compilers, then the Paddle program itself.
# It is a fallback, not a speed ranking; `paddleseg tune` measures the ranking on the CPU at hand.
# The device files' runtimes (ncnn, tflite) are never a fallback: they are chosen by name or by tune.
FALLBACK_ORDER = {"cpu": ("onnxruntime", "openvino", "paddle"), "gpu": ("paddle", "onnxruntime")}
FALLBACK_ORDER_BY_PRECISION = {("cpu", "int8"): ("openvino", "onnxruntime"),
                               ("cpu", "bf16"): ("openvino", "paddle")}


def choose_backend(model, device="cpu", precision="fp32"):
    """The first backend in the fallback order that is installed and can run this model and precision."""
    reasons = []
    order = FALLBACK_ORDER_BY_PRECISION.get((device, precision), FALLBACK_ORDER[device])
    for name in order:
        reason = BACKENDS[name].unavailable(model, device, precision)
        if reason is None:
            return name
        reasons.append(f"{name}: {reason}")
    raise BackendUnavailable(f"no backend can run {precision} on {device}: " + "; ".join(reasons))


def create_runtime(model, backend="auto", device="cpu", precision="fp32", threads=None, **options):
    """Build the runtime of ``model`` (an ExportedModel) for ``backend`` ("auto": the first that can
    run it); its ``name`` says which.

    ``options`` go to the backend's constructor (``PaddleRuntime``'s ``onednn``, ``tensorrt``, ...).
    A model exported for a fixed batch takes batches of any size (``fixed_shape``).
    """
    if device not in DEVICES:
        raise UserError(f"device must be one of {DEVICES}, got {device!r}")
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if backend == "auto":
        backend = choose_backend(model, device, precision)
    if backend not in BACKENDS:
        raise UserError(f"backend must be auto or one of {sorted(BACKENDS)}, got {backend!r}")
    runtime_class = BACKENDS[backend]
    reason = runtime_class.unavailable(model, device, precision)
    if isinstance(reason, MissingExportFile):
        raise reason
    if reason:
        raise BackendUnavailable(f"{backend}: {reason}")
    runtime = runtime_class(model, device=device, precision=precision, threads=threads, **options)
    return FixedBatchRuntime(runtime, model.fixed_batch) if model.fixed_batch else runtime
