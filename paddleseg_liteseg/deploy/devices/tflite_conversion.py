"""ONNX -> TFLite (fp32, fp16 and full-integer int8, NHWC) with onnx2tf, offline.

onnx2tf runs every conversion's model once on a sample of images to settle its NCHW -> NHWC
layout decisions, and downloads that sample from the internet unless a file of its name lies in
the working directory, even for a float conversion. The conversion runs in a fresh working
directory holding that file, made of the images given here, so it never reaches the network. int8
is calibrated on the same images (preprocessed as the model takes them), per channel, with int8
input and output tensors: what integer-only accelerators run.
"""
import contextlib
import io
import os
import shutil
import tempfile

import cv2
import numpy as np

from ..running.extras import missing_package
from .device_onnx import DeviceConversionError

TFLITE_FILES = {"fp32": "model_fp32.tflite", "fp16": "model_fp16.tflite", "int8": "model_int8.tflite"}
ONNX2TF_OUTPUTS = {"fp32": "float32", "fp16": "float16", "int8": "full_integer_quant"}  # model_<this>.tflite
SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"  # the name onnx2tf looks for
SAMPLE_SHAPE = (20, 128, 128, 3)


def convert_to_tflite(device_onnx, input_name, images, save_dir, int8=False):
    """Write ``device_onnx`` (``write_device_onnx``'s) as TFLite files to ``save_dir``: {precision:
    file name}, fp32 and fp16, and int8 calibrated on ``images`` where ``int8``.

    Args:
        input_name (str): The ONNX model's input.
        images (list[np.ndarray]): Preprocessed (C, H, W) float32 images at the model's input size.
    """
    missing = missing_package("onnx2tf", "tflite") or missing_package("tensorflow", "tflite")
    if missing:
        raise DeviceConversionError(f"TFLite conversion needs onnx2tf and TensorFlow: {missing}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import onnx2tf

    nhwc = np.stack([image.transpose(1, 2, 0) for image in images]).astype("float32")
    source, save_dir = os.path.abspath(device_onnx), os.path.abspath(save_dir)
    printed = io.StringIO()  # TensorFlow's saved-model listing; kept for the error message
    with tempfile.TemporaryDirectory() as work_dir, contextlib.chdir(work_dir):
        np.save(SAMPLE_FILE, sample_images(nhwc))
        np.save("calibration.npy", nhwc)
        try:
            with contextlib.redirect_stdout(printed):
                onnx2tf.convert(input_onnx_file_path=source, output_folder_path="out", non_verbose=True,
                                output_integer_quantized_tflite=int8, quant_type="per-channel",
                                custom_input_op_name_np_data_path=[[input_name, "calibration.npy", 0.0, 1.0]])
        except (Exception, SystemExit) as error:
            tail = " | ".join(printed.getvalue().strip().splitlines()[-3:])
            raise DeviceConversionError(f"onnx2tf could not convert {device_onnx} to TFLite: "
                                        f"{type(error).__name__}: {error} {tail}".strip()) from None
        stem = os.path.splitext(os.path.basename(source))[0]
        written = {}
        for precision, name in TFLITE_FILES.items():
            converted = os.path.join("out", f"{stem}_{ONNX2TF_OUTPUTS[precision]}.tflite")
            if precision == "int8" and not int8:
                continue
            if not os.path.isfile(converted):
                raise DeviceConversionError(f"onnx2tf wrote no {precision} file for {device_onnx}")
            shutil.move(converted, os.path.join(save_dir, name))
            written[precision] = name
    return written


def sample_images(nhwc):
    """``SAMPLE_SHAPE``'s images from ``nhwc`` (repeated where there are fewer), each resized."""
    count, height, width = SAMPLE_SHAPE[:3]
    return np.stack([cv2.resize(nhwc[index % len(nhwc)], (width, height), interpolation=cv2.INTER_AREA)
                     for index in range(count)]).astype("float32")
