"""int8 post-training quantization of the exported ONNX model, calibrated on real images.

Two quantizers write three QDQ models, and each runtime runs the fastest of those that agree with
fp32 on at least ``MIN_AGREEMENT`` of the agreement images' pixels on that runtime (among about
equally fast ones, the most agreeing; where none agrees enough, the most agreeing), leaving out
those slower than the fp32 model on that runtime unless all are: int8 exists to be faster. The
agreement images are best ones the model was not trained on (``export`` takes the config's val
set): a model is more confident on its training images, so int8 flips fewer of their pixels.
Runtimes fuse QDQ graphs into their int8 kernels differently, so which model loses least, and
which runs fast, differs between models and runtimes.

- onnxruntime's static quantization. Batch norms are folded into the convolutions first
  (``quant_pre_process``), so each convolution is quantized once, with its folded weights, and
  runs as one int8 convolution: int8 weights per output channel, uint8 activations with the
  min/max ranges seen on the calibration images. Twice: every operator type
  (``model_int8.onnx``), and only convolutions and matrix products with the first convolution and
  the classifier kept fp32 (``model_int8_conv.onnx``).
- NNCF, OpenVINO's quantizer (``model_int8_nncf.onnx``, where the ``openvino`` extra installed it):
  its mixed preset (symmetric weights, asymmetric activations) with bias correction, the first
  convolution and the classifier kept fp32.

The first convolution sees the raw image and the classifier's logits decide the argmax directly:
on real photos, those two cost most of the pixels that int8 changes. Where no file agrees enough on
a runtime and ``write_int8_models`` is given the time, ``int8_search`` finds the fewest further
layers to keep fp32 (export gives it ``int8_search_seconds``).
"""
import copy
import importlib.util
import logging
import os
import tempfile

import numpy as np

from ..errors import UserError
from ..image_files import read_image
from .cpu_features import int8_products_exact
from .inference_timing import seconds

INT8_FILE = "model_int8.onnx"
CONV_INT8_FILE = "model_int8_conv.onnx"
NNCF_INT8_FILE = "model_int8_nncf.onnx"
OPENVINO_INT8_KEY = "openvino_int8"  # deploy.yaml key of OpenVINO's int8 model (onnxruntime's: export.ONNX_INT8_KEY)
INT8_SCORES_KEY = "int8_calibration"  # deploy.yaml: {runtime: {file: agreement with fp32 and ms}}, fp32's file too
INT8_SEARCH_KEY = "int8_search"  # deploy.yaml: {runtime: int8_search.SearchResult's fields}, where a search ran
SEARCH_FILE = "model_int8_search_{runtime}.onnx"
RECIPE_FILES = {"onnxruntime": INT8_FILE, "onnxruntime_conv": CONV_INT8_FILE, "nncf": NNCF_INT8_FILE}
CALIBRATION_IMAGES = 32
MIN_AGREEMENT = 0.99
MAX_MIOU_DROP = 0.005  # 0.5 mIoU points
SAME_SPEED = 1.1  # files within this factor of the fastest one's time count as equally fast


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


def labelled_images(pairs, transforms, count=CALIBRATION_IMAGES):
    """``count`` (image, label) path pairs spread over ``pairs``, preprocessed by ``transforms``
    (config entries) together, so each label stays aligned with its image (a resize resizes it by
    nearest neighbour): (images, labels), the labels (H, W) at the model's input size."""
    from paddleseg.deploy.infer import DeployConfig
    from PIL import Image

    if not pairs:
        raise UserError("int8 agreement found no images")
    compose = DeployConfig.load_transforms(copy.deepcopy(transforms))
    images, labels = [], []
    for image_path, label_path in spread(pairs, count):
        data = compose({"img": read_image(image_path).astype("float32"), "label": np.asarray(Image.open(label_path)),
                        "gt_fields": ["label"]})
        images.append(data["img"])
        labels.append(data["label"])
    return images, labels


def write_int8_models(model_dir, deploy, calibration_images, agreement_images=None, agreement_labels=None,
                      min_agreement=MIN_AGREEMENT, max_miou_drop=MAX_MIOU_DROP, search_seconds=0, ignore_index=255):
    """Quantize ``deploy``'s ONNX model with each installed quantizer and give each installed int8
    runtime its file (see above); returns ``deploy`` with the choices and their measurements added
    (the caller writes deploy.yaml).

    Where none of the three files agrees ``min_agreement`` on a runtime and ``search_seconds`` is
    not 0, ``int8_search`` looks for the fewest layers to keep fp32 from the most agreeing one, in
    about that many seconds; its file joins the choice and ``INT8_SEARCH_KEY`` records its result.

    Args:
        calibration_images (list[np.ndarray]): Preprocessed (C, H, W) float32 images, as the model
            gets them at inference; a few dozen from the training set are plenty.
        agreement_images (list[np.ndarray], optional): Preprocessed images the choice measures the
            agreement with fp32 on (default: the calibration images).
        agreement_labels (list[np.ndarray], optional): Their (H, W) ground truth: the search then
            also keeps the mIoU drop to ``max_miou_drop`` (a fraction).
    """
    from .export import ONNX_INT8_KEY
    from .int8_search import search_int8
    from .runtimes import BACKENDS, create_runtime

    onnx_file = os.path.join(model_dir, deploy["onnx"])
    with tempfile.TemporaryDirectory() as work_dir:
        folded = fold_batch_norms(onnx_file, os.path.join(work_dir, "folded.onnx"))
        candidates = [quantize_onnx(folded, os.path.join(model_dir, INT8_FILE), calibration_images),
                      quantize_onnx(folded, os.path.join(model_dir, CONV_INT8_FILE), calibration_images,
                                    convolutions_only=True)]
    if importlib.util.find_spec("nncf") is not None:
        candidates.append(quantize_nncf(onnx_file, os.path.join(model_dir, NNCF_INT8_FILE), calibration_images))
    deploy = dict(deploy)
    batches = [image[np.newaxis].astype("float32") for image in agreement_images or calibration_images]
    reference = create_runtime(model_dir, deploy, "onnxruntime", precision="fp32")
    expected = [_labels(reference(batch)) for batch in batches]
    scores = {}
    for backend, key in (("onnxruntime", ONNX_INT8_KEY), ("openvino", OPENVINO_INT8_KEY)):
        if BACKENDS[backend].unavailable(model_dir, dict(deploy, **{key: INT8_FILE}), "cpu", "int8"):
            continue
        fp32 = reference if backend == "onnxruntime" else create_runtime(model_dir, deploy, backend, precision="fp32")
        scores[backend] = {deploy["onnx"]: {"agreement": 1.0, "ms": _milliseconds(fp32, batches[0])}}

        def score(candidate):
            name = os.path.basename(candidate)
            runtime = create_runtime(model_dir, dict(deploy, **{key: name}), backend, precision="int8")
            agreement = np.mean([(_labels(runtime(batch)) == labels).mean() for batch, labels in zip(batches, expected)])
            scores[backend][name] = {"agreement": round(float(agreement), 5), "ms": _milliseconds(runtime, batches[0])}

        for candidate in candidates:
            score(candidate)
        recipes = {recipe: scores[backend][name]["agreement"] for recipe, name in RECIPE_FILES.items()
                   if name in scores[backend]}
        if search_seconds and max(measured["agreement"] for name, measured in scores[backend].items()
                                  if name != deploy["onnx"]) < min_agreement:
            found = search_int8(onnx_file, os.path.join(model_dir, SEARCH_FILE.format(runtime=backend)),
                                max(recipes, key=recipes.get), backend, calibration_images,
                                agreement_images or calibration_images, agreement_labels, min_agreement,
                                max_miou_drop, search_seconds, ignore_index)
            deploy.setdefault(INT8_SEARCH_KEY, {})[backend] = dict(found.as_dict(),
                                                                   int8_file=os.path.basename(found.int8_file))
            candidates.append(found.int8_file)
            score(found.int8_file)
        deploy[key] = choose_int8_file(scores[backend], fp32_file=deploy["onnx"], min_agreement=min_agreement)
    deploy[INT8_SCORES_KEY] = scores
    for candidate in candidates:
        if os.path.basename(candidate) not in (deploy.get(ONNX_INT8_KEY), deploy.get(OPENVINO_INT8_KEY)):
            os.remove(candidate)
    return deploy


def choose_int8_file(scores, fp32_file=None, min_agreement=MIN_AGREEMENT):
    """Of the files agreeing enough, the most agreeing of those about as fast as the fastest (a
    file just above the threshold on some images may fall below it on others); where none agrees
    enough, the most agreeing. Files slower than ``fp32_file`` are left out unless all are.

    Args:
        scores (dict): {file: {"agreement", "ms"}}, ``fp32_file``'s among them when given.
    """
    files = {name: score for name, score in scores.items() if name != fp32_file}
    if fp32_file is not None:
        files = {name: score for name, score in files.items() if score["ms"] < scores[fp32_file]["ms"]} or files
    agreeing = [name for name, score in files.items() if score["agreement"] >= min_agreement]
    if agreeing:
        fastest = min(files[name]["ms"] for name in agreeing)
        agreeing = [name for name in agreeing if files[name]["ms"] <= SAME_SPEED * fastest]
    return max(agreeing or files, key=lambda name: files[name]["agreement"])


def _milliseconds(runtime, batch):
    """``runtime``'s best time of three on ``batch``, in ms."""
    return round(1000 * min(seconds(runtime, batch) for _ in range(3)), 2)


def _labels(output):
    """Class labels of a model output: itself after an argmax, else its argmax over the classes."""
    return output if output.ndim == 3 else output.argmax(1)


def fold_batch_norms(onnx_file, folded_file):
    """Write ``onnx_file`` with its batch norms folded into the convolutions (onnxruntime's
    ``quant_pre_process``) to ``folded_file``: what ``quantize_onnx`` quantizes."""
    _onnxruntime_quantization().quant_pre_process(onnx_file, folded_file, skip_symbolic_shape=True)
    return folded_file


def quantize_onnx(folded_file, int8_file, calibration_images, convolutions_only=False, reduce_range=None,
                  also_fp32=(), calibration_method="MinMax", calibration_cache=None):
    """Write onnxruntime's int8 QDQ version of ``folded_file`` (``fold_batch_norms``') to ``int8_file``.

    Args:
        convolutions_only (bool): Quantize only convolutions and matrix products, and keep the
            first convolution and the classifier fp32; else every operator type.
        reduce_range (bool): 7-bit weights; None: where the CPU has no VNNI. Without VNNI (AVX2)
            uint8 x int8 products are summed in saturating 16-bit pairs, and 7 bits keep those sums
            exact; with VNNI the full 8 bits are exact and lose less.
        also_fp32 (list[str]): Names of further nodes kept fp32.
        calibration_method (str): onnxruntime's ``CalibrationMethod``: "MinMax", "Entropy" or
            "Percentile" (the last two clip rare extremes of the activations).
        calibration_cache (str, optional): A file keeping the activation ranges: the first call
            measures them on ``calibration_images``, later ones with the same method reuse them.
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
        nodes_to_exclude=(fp32_convolutions(folded_file) if convolutions_only else []) + list(also_fp32),
        calibrate_method=quantization.CalibrationMethod[calibration_method],
        calibration_cache_path=calibration_cache)
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


def quantize_nncf(onnx_file, int8_file, calibration_images, also_fp32=(), fast_bias_correction=True,
                  activation_ranges=None, reduce_range=None):
    """Write NNCF's int8 QDQ version of ``onnx_file`` to ``int8_file``, keeping ``fp32_convolutions``
    and the nodes named in ``also_fp32`` in fp32.

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
                                  names=sorted(set(fp32_convolutions(onnx_file)) | set(also_fp32))),
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
