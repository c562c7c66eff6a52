"""The files written for devices (NCNN, TFLite) and what a device must do to an image before them,
as ``deploy.yaml`` records them: typed here, written and read through these types.

A device app has no PaddleSeg to read the deployed transforms with, so ``DeviceInput`` spells them
out: the channel order (RGB: PaddleSeg's ``Compose`` turns OpenCV's BGR into RGB first), the size
to resize to, and the normalization, ``(pixel / 255 - mean) / std`` per channel (PaddleSeg's
``Normalize``). Each ``DeviceFile`` names its files, its input and output
tensors and their layout, and how far its labels agreed with onnxruntime fp32 when export checked it.
"""
import dataclasses
from typing import Optional

from .exported_model import BackendUnavailable
from .model_files import DEVICE_INPUT_KEY, DEVICE_MODELS_KEY

FORMATS = ("ncnn", "tflite")


@dataclasses.dataclass(frozen=True)
class DeviceInput:
    """How an image becomes the input of every device file: its channels in ``channel_order``,
    stretched to ``height`` x ``width``, then ``(pixel / 255 - mean) / std``."""

    height: int
    width: int
    mean: tuple
    std: tuple
    channel_order: str = "RGB"

    def as_dict(self):
        return {"channel_order": self.channel_order, "height": self.height, "width": self.width,
                "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, stored):
        return cls(stored["height"], stored["width"], tuple(stored["mean"]), tuple(stored["std"]),
                   stored.get("channel_order", "RGB"))


@dataclasses.dataclass(frozen=True)
class DeviceFile:
    """One converted model at one precision.

    Attributes:
        format (str): "ncnn" or "tflite".
        precision (str): "fp32", "fp16" or "int8".
        files (tuple[str]): File names in the export directory (NCNN: the .param, then the .bin).
        input_name, output_name (str): The input and output tensors' names in the file.
        input_shape (tuple[int]): The input as the file takes it: NCNN C H W (its Mat has no batch),
            TFLite N H W C.
        layout (str): The axes of input and output: "CHW" (NCNN) or "NHWC" (TFLite).
        output (str): "logits", or "probabilities" for a model exported with a softmax; a device
            takes the argmax over the class axis.
        agreement (float, optional): Share of pixels whose label equalled onnxruntime fp32's, on
        images (int) images, and
        miou (float, optional): the mIoU against their labels, where the images had labels.
    """

    format: str
    precision: str
    files: tuple
    input_name: str
    output_name: str
    input_shape: tuple
    layout: str
    output: str = "logits"
    agreement: Optional[float] = None
    images: int = 0
    miou: Optional[float] = None

    def as_dict(self):
        stored = dataclasses.asdict(self)
        stored.update(files=list(self.files), input_shape=list(self.input_shape))
        return {key: value for key, value in stored.items() if value is not None}

    @classmethod
    def from_dict(cls, stored):
        return cls(**{**stored, "files": tuple(stored["files"]), "input_shape": tuple(stored["input_shape"])})


def device_entries(device_input, device_files):
    """The deploy section's entries for ``device_input`` and ``device_files``."""
    return {DEVICE_INPUT_KEY: device_input.as_dict(), DEVICE_MODELS_KEY: [file.as_dict() for file in device_files]}


def device_files(model):
    """Every DeviceFile ``model`` (an ExportedModel) records."""
    return [DeviceFile.from_dict(stored) for stored in model.get(DEVICE_MODELS_KEY) or []]


def device_input(model):
    """``model``'s DeviceInput, or None where it has no device files."""
    stored = model.get(DEVICE_INPUT_KEY)
    return DeviceInput.from_dict(stored) if stored else None


def device_file(model, format, precision):
    """``model``'s DeviceFile of ``format`` at ``precision``; raises BackendUnavailable (saying how to
    export one) where it has none."""
    for file in device_files(model):
        if file.format == format and file.precision == precision:
            return file
    raise BackendUnavailable(f"{model.directory} has no {format} {precision} file: export it with "
                             f"formats=['{format}'] and a fixed input_shape" + (" and int8=True" if precision == "int8" else ""),
                             path=model.directory)
