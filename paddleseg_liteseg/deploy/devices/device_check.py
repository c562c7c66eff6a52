"""Each device file checked against onnxruntime fp32 at export: its labels on the check images, in
its own runtime (NCNN, LiteRT), compared pixel by pixel, and its mIoU where the images have labels.

A float file (fp32, fp16) is a conversion, not an approximation: below ``MIN_AGREEMENT`` something
converted wrongly, and export fails, naming the format, the agreement and the images that disagree
most. int8 is an approximation: its agreement is recorded, for the user to judge.
"""
import dataclasses
from typing import NamedTuple, Optional

import numpy as np

from ...evaluation.confusion import mean_iou
from ..exporting.exported_model import labels_from_output
from ..int8.agreement import MIN_AGREEMENT
from ..running.runtimes import create_runtime
from .device_onnx import DeviceConversionError

FLOAT_PRECISIONS = ("fp32", "fp16")
WORST_IMAGES = 3  # images a failure names


class CheckImages(NamedTuple):
    """Preprocessed (C, H, W) images at the model's input size, their names for messages, and
    their (H, W) labels (None where there are none) with the dataset's ignore_index."""

    images: list
    names: list
    labels: Optional[list] = None
    ignore_index: int = 255


class ConversionDisagrees(DeviceConversionError):
    """A float device file whose labels differ from onnxruntime fp32's on too many pixels."""


def check_device_files(model, files, check, num_classes, min_agreement=MIN_AGREEMENT):
    """(``files`` with their agreement with onnxruntime fp32 on ``check`` (CheckImages) and their
    mIoU, a message for each float file that agrees less than ``min_agreement``).

    Args:
        files (list[DeviceFile]): Files that ``model`` (an ExportedModel) records.
    """
    reference = create_runtime(model, "onnxruntime", precision="fp32")
    expected = [labels_from_output(reference(image[np.newaxis])[0], None) for image in check.images]
    checked, failures = [], []
    for file in files:
        runtime = create_runtime(model, file.format, precision=file.precision)
        predicted = [labels_from_output(runtime(image[np.newaxis])[0], None) for image in check.images]
        shares = [float((a == b).mean()) for a, b in zip(predicted, expected)]
        miou = (round(mean_iou(predicted, check.labels, num_classes, check.ignore_index), 5)
                if check.labels is not None else None)
        file = dataclasses.replace(file, agreement=round(float(np.mean(shares)), 5), images=len(shares), miou=miou)
        checked.append(file)
        if file.precision in FLOAT_PRECISIONS and file.agreement < min_agreement:
            worst = sorted(range(len(shares)), key=shares.__getitem__)[:WORST_IMAGES]
            failures.append(f"{file.format} {file.precision} ({', '.join(file.files)}) agrees with onnxruntime fp32 "
                            f"on {file.agreement:.2%} of the pixels of {len(shares)} images, below {min_agreement:.0%}; "
                            "least on " + ", ".join(f"{check.names[i]} ({shares[i]:.2%})" for i in worst))
    return checked, failures


def raise_failures(failures, directory):
    """Raise ConversionDisagrees for ``check_device_files``' failures, if any."""
    if failures:
        raise ConversionDisagrees(f"{directory}: a device file converted wrongly: " + "; ".join(failures)
                                  + ". Its labels are not the model's: do not ship it.", path=directory)
