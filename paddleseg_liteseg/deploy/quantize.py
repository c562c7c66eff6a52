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
on real photos, those two cost most of the pixels that int8 changes.
"""
import importlib.util
import logging
import os
import tempfile

import numpy as np

from ..errors import UserError
from ..image_files import read_image
from .agreement import MIN_AGREEMENT, pixel_agreement
from .cpu_features import read_cpu_info
from .exported_model import preprocessing
from .inference_timing import seconds
from .model_files import (CONV_INT8_FILE, INT8_FILE, INT8_SCORES_KEY, NNCF_INT8_FILE, ONNX_INT8_KEY, ONNX_KEY,
                          OPENVINO_INT8_KEY)
from .runtimes import BACKENDS, create_runtime

CALIBRATION_IMAGES = 32
SAME_SPEED = 1.1  # files within this factor of the fastest one's time count as equally fast
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def spread(items, count=CALIBRATION_IMAGES):
    """``count`` of ``items`` taken at even steps (all of them when there are fewer)."""
    return items[::max(1, len(items) // count)][:count]


def calibration_images(image_paths, transforms, count=CALIBRATION_IMAGES):
    """``count`` images spread over ``image_paths``, preprocessed by ``transforms`` (config entries)."""
    if not image_paths:
        raise UserError("int8 calibration found no images")
    compose = preprocessing(transforms)
    return [compose({"img": read_image(path).astype("float32")})["img"] for path in spread(image_paths, count)]


def write_int8_models(model, calibration_images, agreement_images=None):
    """Quantize ``model``'s (an ExportedModel's) ONNX model with each installed quantizer and give
    each installed int8 runtime its file (see above); returns the model with the choices and their
    measurements added to its deploy section (the caller writes deploy.yaml).

    Args:
        calibration_images (list[np.ndarray]): Preprocessed (C, H, W) float32 images, as the model
            gets them at inference; a few dozen from the training set are plenty.
        agreement_images (list[np.ndarray], optional): Preprocessed images the choice measures the
            agreement with fp32 on (default: the calibration images).
    """
    onnx_file = model.path(ONNX_KEY)
    with tempfile.TemporaryDirectory() as work_dir:
        folded = fold_batch_norms(onnx_file, os.path.join(work_dir, "folded.onnx"))
        candidates = [quantize_onnx(folded, os.path.join(model.directory, INT8_FILE), calibration_images),
                      quantize_onnx(folded, os.path.join(model.directory, CONV_INT8_FILE), calibration_images,
                                    convolutions_only=True)]
    if importlib.util.find_spec("nncf") is not None:
        candidates.append(quantize_nncf(onnx_file, os.path.join(model.directory, NNCF_INT8_FILE), calibration_images))
    batches = [image[np.newaxis].astype("float32") for image in agreement_images or calibration_images]
    reference = create_runtime(model, "onnxruntime", precision="fp32")
    expected = [_labels(reference(batch)) for batch in batches]
    scores, chosen = {}, {}
    for backend, key in (("onnxruntime", ONNX_INT8_KEY), ("openvino", OPENVINO_INT8_KEY)):
        if BACKENDS[backend].unavailable(model.updated(**{key: INT8_FILE}), "cpu", "int8"):
            continue
        fp32 = reference if backend == "onnxruntime" else create_runtime(model, backend, precision="fp32")
        scores[backend] = {model.get(ONNX_KEY): {"agreement": 1.0, "ms": _milliseconds(fp32, batches[0])}}
        for candidate in candidates:
            name = os.path.basename(candidate)
            runtime = create_runtime(model.updated(**{key: name}), backend, precision="int8")
            agreement = pixel_agreement([_labels(runtime(batch)) for batch in batches], expected)
            scores[backend][name] = {"agreement": round(agreement, 5), "ms": _milliseconds(runtime, batches[0])}
        chosen[key] = choose_int8_file(scores[backend], fp32_file=model.get(ONNX_KEY))
    for candidate in candidates:
        if os.path.basename(candidate) not in chosen.values():
            os.remove(candidate)
    return model.updated(**chosen, **{INT8_SCORES_KEY: scores})


def choose_int8_file(scores, fp32_file=None):
    """Of the files agreeing enough, the most agreeing of those about as fast as the fastest (a
    file just above the threshold on some images may fall below it on others); where none agrees
    enough, the most agreeing. Files slower than ``fp32_file`` are left out unless all are.

    Args:
        scores (dict): {file: {"agreement", "ms"}}, ``fp32_file``'s among them when given.
    """
    files = {name: score for name, score in scores.items() if name != fp32_file}
    if fp32_file is not None:
        files = {name: score for name, score in files.items() if score["ms"] < scores[fp32_file]["ms"]} or files
    agreeing = [name for name, score in files.items() if score["agreement"] >= MIN_AGREEMENT]
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


def quantize_onnx(folded_file, int8_file, calibration_images, convolutions_only=False, reduce_range=None):
    """Write onnxruntime's int8 QDQ version of ``folded_file`` (``fold_batch_norms``') to ``int8_file``.

    Args:
        convolutions_only (bool): Quantize only convolutions and matrix products, and keep the
            first convolution and the classifier fp32; else every operator type.
        reduce_range (bool): 7-bit weights; None: where the CPU has no VNNI. Without VNNI (AVX2)
            uint8 x int8 products are summed in saturating 16-bit pairs, and 7 bits keep those sums
            exact; with VNNI the full 8 bits are exact and lose less.
    """
    quantization = _onnxruntime_quantization()
    _check_images(calibration_images)
    if reduce_range is None:
        reduce_range = not any(flag in read_cpu_info().flags for flag in VNNI_FLAGS)
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
        nodes_to_exclude=fp32_convolutions(folded_file) if convolutions_only else None)
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


def quantize_nncf(onnx_file, int8_file, calibration_images, also_fp32=()):
    """Write NNCF's int8 QDQ version of ``onnx_file`` to ``int8_file``, keeping ``fp32_convolutions``
    and the nodes named in ``also_fp32`` in fp32."""
    try:
        import nncf
        import onnx
    except ImportError:
        raise UserError("int8 quantization for OpenVINO needs NNCF: "
                        "pip install 'paddleseg-liteseg[openvino]'") from None
    _check_images(calibration_images)
    logging.getLogger("nncf").setLevel(logging.WARNING)  # it logs a line per node it cannot shape
    model = onnx.load(onnx_file)
    input_name = model.graph.input[0].name
    dataset = nncf.Dataset(calibration_images, lambda image: {input_name: image[np.newaxis].astype("float32")})
    quantized = nncf.quantize(model, dataset, preset=nncf.QuantizationPreset.MIXED,
                              subset_size=len(calibration_images),
                              ignored_scope=nncf.IgnoredScope(
                                  names=sorted(set(fp32_convolutions(onnx_file)) | set(also_fp32))))
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
