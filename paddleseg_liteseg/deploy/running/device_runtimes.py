"""NCNN and LiteRT (TFLite) as backends: the files export wrote for devices, run on this CPU through
the runtime interface of the others, so their labels and speed are checked before they ship.

Each runs one image at a time (NCNN's ``Mat`` has no batch axis; the TFLite files take a batch of
1) and gives what the model's other files give for the same ``output_op``: labels (N, H, W) int32
after an argmax, else (N, C, H, W) float32.
"""
import numpy as np

from ...cpu_settings import usable_cpus
from ..exporting.device_files import device_file
from ..exporting.model_files import OUTPUT_OP_KEY
from .extras import missing_package


DEVICE_BACKENDS = ("ncnn", "tflite")  # the backends of this module, whose fp16 files run on CPUs


def model_output(outputs, model):
    """(N, C, H, W) logits or probabilities as ``model``'s other runtimes give them."""
    outputs = np.stack(outputs).astype("float32")
    if model.get(OUTPUT_OP_KEY, "argmax") == "argmax":
        return outputs.argmax(axis=1).astype("int32")
    return outputs


class NcnnRuntime:
    """NCNN's Python wheel on the ``.param``/``.bin`` pair of the precision: fp32, or fp16 weights
    run with NCNN's fp16 storage and arithmetic where the CPU has them (ARM; x86 computes in fp32)."""

    name = "ncnn"

    @staticmethod
    def unavailable(model, device, precision):
        if device != "cpu":
            return "the ncnn backend runs on CPU here"
        if precision not in ("fp32", "fp16"):
            return "NCNN files are fp32 and fp16 here; NCNN's int8 comes from its own tools (docs/devices.md)"
        return missing_package("ncnn", "ncnn") or _missing_file(model, "ncnn", precision)

    def __init__(self, model, device="cpu", precision="fp32", threads=None):
        import ncnn

        self.model, self.file = model, device_file(model, "ncnn", precision)
        self.net = ncnn.Net()
        half = precision == "fp16"
        self.net.opt.use_fp16_storage = self.net.opt.use_fp16_packed = self.net.opt.use_fp16_arithmetic = half
        self.net.opt.num_threads = threads or usable_cpus()
        param, weights = (model.file(name) for name in self.file.files)
        if self.net.load_param(param) != 0 or self.net.load_model(weights) != 0:
            raise RuntimeError(f"ncnn could not load {param} and {weights}")
        self.mat = ncnn.Mat

    def __call__(self, batch):
        outputs = []
        for image in np.asarray(batch, dtype="float32"):
            image = np.ascontiguousarray(image)  # the Mat reads this memory: it must outlive the extraction
            extractor = self.net.create_extractor()
            extractor.input(self.file.input_name, self.mat(image))
            status, output = extractor.extract(self.file.output_name)
            if status != 0:
                raise RuntimeError(f"ncnn failed on {self.file.files[0]} (status {status})")
            outputs.append(np.array(output))
        return model_output(outputs, self.model)


class TfliteRuntime:
    """LiteRT (``ai-edge-litert``, TFLite's interpreter, XNNPACK on CPU) on the file of the precision:
    NHWC in and out; the int8 file's int8 input and output are quantized and dequantized here."""

    name = "tflite"

    @staticmethod
    def unavailable(model, device, precision):
        if device != "cpu":
            return "the tflite backend runs on CPU here"
        if precision == "bf16":
            return "TFLite files are fp32, fp16 and int8"
        return missing_package("ai_edge_litert", "tflite") or _missing_file(model, "tflite", precision)

    def __init__(self, model, device="cpu", precision="fp32", threads=None):
        from ai_edge_litert.interpreter import Interpreter

        self.model, self.file = model, device_file(model, "tflite", precision)
        self.interpreter = Interpreter(model_path=model.file(self.file.files[0]),
                                       num_threads=threads or usable_cpus())
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def __call__(self, batch):
        outputs = []
        for image in np.asarray(batch, dtype="float32"):
            self.interpreter.set_tensor(self.input["index"], _quantized(image.transpose(1, 2, 0)[np.newaxis], self.input))
            self.interpreter.invoke()
            output = _dequantized(self.interpreter.get_tensor(self.output["index"]), self.output)
            outputs.append(output[0].transpose(2, 0, 1))
        return model_output(outputs, self.model)


def _quantized(values, tensor):
    """``values`` as ``tensor`` takes them: as they are for a float tensor, else quantized."""
    if np.issubdtype(tensor["dtype"], np.floating):
        return values.astype(tensor["dtype"])
    scale, zero_point = tensor["quantization"]
    limits = np.iinfo(tensor["dtype"])
    return np.clip(np.round(values / scale + zero_point), limits.min, limits.max).astype(tensor["dtype"])


def _dequantized(values, tensor):
    if np.issubdtype(tensor["dtype"], np.floating):
        return values.astype("float32")
    scale, zero_point = tensor["quantization"]
    return (values.astype("float32") - zero_point) * scale


def _missing_file(model, format, precision):
    """Why ``model`` has no ``format`` file at ``precision`` (BackendUnavailable), or None."""
    from ..exporting.exported_model import BackendUnavailable

    try:
        device_file(model, format, precision)
    except BackendUnavailable as missing:
        return str(missing)
    return None
