"""int8 post-training quantization of the exported ONNX model, calibrated on real images: the
quantizers (``int8_choice`` gives each runtime its file, ``int8_search`` keeps layers fp32 where
none agrees enough). Two quantizers write three QDQ models:

- onnxruntime's static quantization. Batch norms are folded into the convolutions first
  (``quant_pre_process``), so each convolution is quantized once, with its folded weights, and
  runs as one int8 convolution: int8 weights per output channel, uint8 activations with the
  min/max ranges seen on the calibration images. The activations (ReLU) stay in the graph, where
  the quantizer would fold them into the ranges, so that ``fp32_layers`` can put a layer back to
  fp32 (the runtimes fuse them into the int8 kernels all the same). Twice: every operator type
  (``model_int8.onnx``), and only convolutions and matrix products with the first convolution and
  the classifier kept fp32 (``model_int8_conv.onnx``).
- NNCF, OpenVINO's quantizer (``model_int8_nncf.onnx``, where the ``openvino`` extra installed it):
  its mixed preset (symmetric weights, asymmetric activations) with bias correction, the first
  convolution and the classifier kept fp32.

The first convolution sees the raw image and the classifier's logits decide the argmax directly:
on real photos, those two cost most of the pixels that int8 changes.
"""
import logging

import numpy as np

from ...errors import UserError
from ...image_files import read_image
from ..running.cpu_features import int8_products_exact
from ..exporting.exported_model import preprocessing

CALIBRATION_IMAGES = 32  # images int8 is calibrated on, and its agreement with fp32 measured on


def spread(items, count=CALIBRATION_IMAGES):
    """``count`` of ``items`` taken at even steps (all of them when there are fewer)."""
    return items[::max(1, len(items) // count)][:count]


def calibration_images(image_paths, transforms, count=CALIBRATION_IMAGES):
    """``count`` images spread over ``image_paths``, preprocessed by ``transforms`` (config entries)."""
    if not image_paths:
        raise UserError("int8 calibration found no images")
    compose = preprocessing(transforms)
    return [compose({"img": read_image(path).astype("float32")})["img"] for path in spread(image_paths, count)]


def labelled_images(pairs, transforms, count=CALIBRATION_IMAGES):
    """``count`` (image, label) path pairs spread over ``pairs``, preprocessed by ``transforms``
    (config entries) together, so each label stays aligned with its image (a resize resizes it by
    nearest neighbour): (images, labels), the labels (H, W) at the model's input size."""
    from PIL import Image

    if not pairs:
        raise UserError("int8 agreement found no images")
    compose = preprocessing(transforms)
    images, labels = [], []
    for image_path, label_path in spread(pairs, count):
        data = compose({"img": read_image(image_path).astype("float32"), "label": np.asarray(Image.open(label_path)),
                        "gt_fields": ["label"]})
        images.append(data["img"])
        labels.append(data["label"])
    return images, labels


def fold_batch_norms(onnx_file, folded_file):
    """Write ``onnx_file`` with its batch norms folded into the convolutions (onnxruntime's
    ``quant_pre_process``) to ``folded_file``: what ``quantize_onnx`` quantizes."""
    _onnxruntime_quantization().quant_pre_process(onnx_file, folded_file, skip_symbolic_shape=True)
    return folded_file


def quantize_onnx(folded_file, int8_file, calibration_images, convolutions_only=False, reduce_range=None,
                  calibration_method="MinMax"):
    """Write onnxruntime's int8 QDQ version of ``folded_file`` (``fold_batch_norms``') to ``int8_file``.

    Args:
        convolutions_only (bool): Quantize only convolutions and matrix products, and keep the
            first convolution and the classifier fp32; else every operator type.
        reduce_range (bool): 7-bit weights; None: where the CPU has no VNNI. Without VNNI (AVX2)
            uint8 x int8 products are summed in saturating 16-bit pairs, and 7 bits keep those sums
            exact; with VNNI the full 8 bits are exact and lose less.
        calibration_method (str): onnxruntime's ``CalibrationMethod``: "MinMax", "Entropy" or
            "Percentile" (the last two clip rare extremes of the activations).
    """
    quantization = _onnxruntime_quantization()
    _check_images(calibration_images)
    if reduce_range is None:
        reduce_range = not int8_products_exact()
    if calibration_method not in quantization.CalibrationMethod.__members__:
        raise UserError(f"calibration_method must be one of {list(quantization.CalibrationMethod.__members__)}, "
                        f"got {calibration_method!r}")
    input_name = _input_name(folded_file)

    class Images(quantization.CalibrationDataReader):
        def __init__(self):
            self.images = iter(calibration_images)

        def get_next(self):
            image = next(self.images, None)
            return None if image is None else {input_name: image[np.newaxis].astype("float32")}

    quantization.quantize_static(
        folded_file, int8_file, Images(), quant_format=quantization.QuantFormat.QDQ,
        activation_type=quantization.QuantType.QUInt8, weight_type=quantization.QuantType.QInt8,
        per_channel=True, reduce_range=reduce_range,
        op_types_to_quantize=["Conv", "MatMul"] if convolutions_only else None,
        nodes_to_exclude=fp32_convolutions(folded_file) if convolutions_only else [],
        calibrate_method=quantization.CalibrationMethod[calibration_method],
        extra_options={"QDQKeepRemovableActivations": True})
    return int8_file


def _onnxruntime_quantization():
    """onnxruntime's quantization module, its optimizer's per-constant log lines silenced."""
    try:
        import onnxruntime
        from onnxruntime import quantization
    except ImportError:
        raise UserError("int8 quantization needs onnxruntime: "
                        "pip install 'paddleseg-liteseg[onnx]'") from None
    onnxruntime.set_default_logger_severity(3)
    return quantization


def quantize_nncf(onnx_file, int8_file, calibration_images, fast_bias_correction=True,
                  activation_ranges=None, reduce_range=None):
    """Write NNCF's int8 QDQ version of ``onnx_file`` to ``int8_file``, keeping ``fp32_convolutions``
    in fp32.

    Args:
        fast_bias_correction (bool): NNCF's fast bias correction; False: its full one, which
            corrects each layer's bias on the outputs of the layers already quantized (slower).
        activation_ranges (str, optional): A ``nncf.quantization.range_estimator.RangeEstimatorParametersSet``
            name for the activations ("MINMAX", "MEAN_MINMAX", "HISTOGRAM", ...); None: NNCF's default.
        reduce_range (bool): 7-bit weights in every convolution and matrix product (NNCF's overflow
            fix); None: where the CPU has no VNNI (see ``quantize_onnx``).
    """
    try:
        import nncf
        import onnx
        from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix
        from nncf.quantization.range_estimator import RangeEstimatorParametersSet
    except ImportError:
        raise UserError("int8 quantization for OpenVINO needs NNCF: "
                        "pip install 'paddleseg-liteseg[openvino]'") from None
    _check_images(calibration_images)
    if activation_ranges is not None and not isinstance(getattr(RangeEstimatorParametersSet, activation_ranges, None),
                                                        type(RangeEstimatorParametersSet.MINMAX)):
        raise UserError(f"activation_ranges must name a RangeEstimatorParametersSet, got {activation_ranges!r}")
    if reduce_range is None:
        reduce_range = not int8_products_exact()
    logging.getLogger("nncf").setLevel(logging.WARNING)  # it logs a line per node it cannot shape
    model = onnx.load(onnx_file)
    input_name = model.graph.input[0].name
    dataset = nncf.Dataset(calibration_images, lambda image: {input_name: image[np.newaxis].astype("float32")})
    advanced = AdvancedQuantizationParameters(overflow_fix=OverflowFix.ENABLE if reduce_range else OverflowFix.DISABLE)
    if activation_ranges is not None:
        advanced.activations_range_estimator_params = getattr(RangeEstimatorParametersSet, activation_ranges)
    quantized = nncf.quantize(model, dataset, preset=nncf.QuantizationPreset.MIXED,
                              subset_size=len(calibration_images), fast_bias_correction=fast_bias_correction,
                              ignored_scope=nncf.IgnoredScope(
                                  names=fp32_convolutions(onnx_file)),
                              advanced_parameters=advanced)
    onnx.save(quantized, int8_file)
    return int8_file


def fp32_convolutions(onnx_file):
    """Names of the convolutions kept in fp32: the one reading the image and the classifier (the
    last convolution before the output)."""
    import onnx

    graph = onnx.load(onnx_file, load_external_data=False).graph
    producers = {output: node for node in graph.node for output in node.output}
    image = graph.input[0].name
    kept = [node.name for node in graph.node if node.op_type == "Conv" and image in node.input][:1]
    node = producers.get(graph.output[0].name)
    while node is not None and node.op_type != "Conv":
        node = next((producers[name] for name in node.input if name in producers), None)
    return kept + ([node.name] if node is not None and node.name not in kept else [])


def _check_images(calibration_images):
    if not calibration_images:
        raise UserError("int8 quantization needs at least one calibration image")


def _input_name(onnx_file):
    import onnx
    return onnx.load(onnx_file, load_external_data=False).graph.input[0].name
