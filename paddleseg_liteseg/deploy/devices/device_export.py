"""Write an exported model's device files (NCNN, TFLite) next to it, check each against onnxruntime
fp32, and record them in ``deploy.yaml``.

Both formats are converted from the same graph, ``model.onnx`` up to its logits (``device_onnx``),
and need the fixed input shape that export takes as ``input_shape``, with a batch of 1: TFLite
and NCNN plan their memory for one shape, and a device segments one camera frame at a time.
"""
import os
import tempfile

from ...errors import UserError
from ..exporting.device_files import FORMATS, DeviceFile, DeviceInput, device_entries
from ..exporting.model_files import INPUT_NAME, ONNX_KEY, OUTPUT_OP_KEY
from ..int8.calibration_data import agreement_pairs, calibration_paths
from ..int8.quantize import CALIBRATION_IMAGES, calibration_images, labelled_images, spread
from .device_check import CheckImages, check_device_files, raise_failures
from .device_onnx import write_device_onnx
from .ncnn_conversion import NCNN_INPUT, NCNN_OUTPUT, convert_to_ncnn
from .tflite_conversion import convert_to_tflite


def check_device_request(formats, input_shape):
    """Raise UserError, naming the argument, where ``formats`` cannot be written for ``input_shape``."""
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise UserError(f"formats: {unknown} unknown; device formats are {list(FORMATS)}", argument="formats")
    shape = list(input_shape or [])
    if formats and (len(shape) != 4 or shape[0] != 1 or not all(isinstance(size, int) and size > 0 for size in shape)):
        raise UserError(f"{' and '.join(formats)} files need a fixed input_shape of 1 3 H W (one image, the size "
                        f"the device resizes to), got {shape or None}", argument="input_shape")


def write_device_models(model, formats, calibration_images, check, int8=False):
    """Convert ``model`` (an ExportedModel with ONNX, exported for a fixed 1 x C x H x W) to each of
    ``formats``, check each file on ``check`` (CheckImages) and return the model with them recorded
    (deploy.yaml written); raises ConversionDisagrees, after recording them all, where a float file
    disagrees with onnxruntime fp32.

    Args:
        calibration_images (list[np.ndarray]): Preprocessed (C, H, W) images: TFLite's int8 is
            calibrated on them, and onnx2tf settles its layout on them.
        int8 (bool): Also write TFLite's full-integer int8 file.
    """
    check_device_request(formats, model.fixed_shape)
    with tempfile.TemporaryDirectory() as work_dir:
        logits_onnx, folded_onnx = os.path.join(work_dir, "logits.onnx"), os.path.join(work_dir, "folded.onnx")
        write_device_onnx(model.path(ONNX_KEY), logits_onnx, fold=False)
        num_classes = _classes(logits_onnx)
        output = "probabilities" if model.get(OUTPUT_OP_KEY) == "softmax" else "logits"
        _, channels, height, width = model.fixed_shape
        files = []
        if "ncnn" in formats:
            for precision, names in convert_to_ncnn(logits_onnx, model.fixed_shape, model.directory).items():
                files.append(DeviceFile("ncnn", precision, names, NCNN_INPUT, NCNN_OUTPUT, (channels, height, width),
                                        "CHW", output))
        if "tflite" in formats:
            write_device_onnx(model.path(ONNX_KEY), folded_onnx)
            for precision, name in convert_to_tflite(folded_onnx, INPUT_NAME, calibration_images, model.directory,
                                                     int8=int8).items():
                input_name, output_name = _tflite_names(model.file(name))
                files.append(DeviceFile("tflite", precision, (name,), input_name, output_name,
                                        (1, height, width, channels), "NHWC", output))
    recorded = model.updated(**device_entries(device_input(model.transforms, height, width), files))
    checked, failures = check_device_files(recorded, files, check, num_classes)
    recorded = recorded.updated(**device_entries(device_input(model.transforms, height, width), checked)).write()
    raise_failures(failures, model.directory)
    return recorded


def device_images(config_name, builder, transforms, calib_images=None, count=CALIBRATION_IMAGES):
    """(calibration images, CheckImages): ``count`` images of each, preprocessed by ``transforms``,
    as int8 takes them (``int8.calibration_data``): calibration from ``calib_images`` or the
    config's train_dataset, the check on its val_dataset with labels where it has one, else on the
    calibration images."""
    paths = calibration_paths(config_name, builder, calib_images)
    calibration = calibration_images(paths, transforms, count)
    found = agreement_pairs(builder)
    if found is None:
        return calibration, CheckImages(calibration, [os.path.basename(path) for path in spread(paths, count)])
    pairs, ignore_index = found
    images, labels = labelled_images(pairs, transforms, count)
    return calibration, CheckImages(images, [os.path.basename(image) for image, _ in spread(pairs, count)],
                                    labels, ignore_index)


def device_input(transforms, height, width):
    """The DeviceInput of deployed ``transforms`` (PaddleSeg config entries) at ``height`` x ``width``."""
    normalize = next((entry for entry in transforms if entry.get("type") == "Normalize"), {})
    return DeviceInput(height, width, tuple(normalize.get("mean", (0.5, 0.5, 0.5))),
                       tuple(normalize.get("std", (0.5, 0.5, 0.5))))


def _classes(onnx_file):
    """The number of classes: the channels of the device graph's output."""
    import onnxruntime

    session = onnxruntime.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
    return int(session.get_outputs()[0].shape[1])


def _tflite_names(tflite_file):
    """(input, output) tensor names of a TFLite file, as its interpreter reports them."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=tflite_file)
    return interpreter.get_input_details()[0]["name"], interpreter.get_output_details()[0]["name"]
