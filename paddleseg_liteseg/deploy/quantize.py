"""int8 post-training quantization of the exported ONNX model, calibrated on real images.

onnxruntime's static quantization writes a QDQ model (int8 weights per output channel, uint8
activations with min/max ranges seen on the calibration images). onnxruntime runs it with int8
kernels, and OpenVINO reads the same file and runs it in int8 as well, so one file serves both.
Before quantizing, batch norms are folded into the convolutions (``quant_pre_process``), so each
convolution is quantized once, with its folded weights.
"""
import copy
import os
import tempfile

import numpy as np

from ..errors import UserError
from ..image_files import read_image

INT8_FILE = "model_int8.onnx"
CALIBRATION_IMAGES = 32


def spread(items, count=CALIBRATION_IMAGES):
    """``count`` of ``items`` taken at even steps (all of them when there are fewer)."""
    return items[::max(1, len(items) // count)][:count]


def calibration_images(image_paths, transforms, count=CALIBRATION_IMAGES):
    """``count`` images spread over ``image_paths``, preprocessed by ``transforms`` (config entries)."""
    from paddleseg.deploy.infer import DeployConfig

    if not image_paths:
        raise UserError("int8 calibration found no images")
    compose = DeployConfig.load_transforms(copy.deepcopy(transforms))
    return [compose({"img": read_image(path).astype("float32")})["img"] for path in spread(image_paths, count)]


def quantize_onnx(onnx_file, int8_file, calibration_images, reduce_range=True):
    """Write the int8 QDQ version of ``onnx_file`` to ``int8_file``.

    Args:
        calibration_images (list[np.ndarray]): Preprocessed (C, H, W) float32 images, as the model
            gets them at inference; a few dozen from the training set are plenty.
        reduce_range (bool): 7-bit weights. CPUs without VNNI (AVX2) multiply uint8 x int8 in
            saturating 16-bit pairs; 7 bits keeps those sums exact at no speed cost.
    """
    try:
        import onnxruntime
        from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                              quant_pre_process, quantize_static)
    except ImportError:
        raise UserError("int8 quantization needs onnxruntime: "
                        "pip install 'paddleseg-liteseg[onnx]'") from None
    if not calibration_images:
        raise UserError("int8 quantization needs at least one calibration image")
    input_name = _input_name(onnx_file)

    class Images(CalibrationDataReader):
        def __init__(self):
            self.images = iter(calibration_images)

        def get_next(self):
            image = next(self.images, None)
            return None if image is None else {input_name: image[np.newaxis].astype("float32")}

    onnxruntime.set_default_logger_severity(3)  # its optimizer lists every constant it folds away
    with tempfile.TemporaryDirectory() as work_dir:
        folded = os.path.join(work_dir, "folded.onnx")
        quant_pre_process(onnx_file, folded, skip_symbolic_shape=True)
        quantize_static(folded, int8_file, Images(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        per_channel=True, reduce_range=reduce_range)
    return int8_file


def _input_name(onnx_file):
    import onnx
    return onnx.load(onnx_file, load_external_data=False).graph.input[0].name
