"""Which int8 model each runtime runs: the quantizers' three files (``quantize``), and where none
agrees enough, the files ``int8_search`` writes from them with the fewest further layers kept fp32.

Each runtime runs the fastest of the files that agree with fp32 on at least ``min_agreement`` of
the agreement images' pixels on that runtime (among about equally fast ones, the most agreeing;
where none agrees enough, the most agreeing), leaving out those slower than the fp32 model on that
runtime unless all are: int8 exists to be faster. The agreement images are best ones the model was
not trained on (``export`` takes the config's val set): a model is more confident on its training
images, so int8 flips fewer of their pixels. Runtimes fuse QDQ graphs into their int8 kernels
differently, so which model loses least, and which runs fast, differs between models and runtimes.
"""
import importlib.util
import os
import tempfile

import numpy as np

from .agreement import MAX_MIOU_DROP, MIN_AGREEMENT, pixel_agreement
from ..running.inference_timing import seconds
from .int8_search import search_from_recipes
from ..exporting.model_files import (CONV_INT8_FILE, INT8_FILE, INT8_SCORES_KEY, INT8_SEARCH_KEY, NNCF_INT8_FILE, ONNX_INT8_KEY, ONNX_KEY, OPENVINO_INT8_KEY, RECIPE_FILES, SEARCH_FILE)
from .quantize import fold_batch_norms, quantize_nncf, quantize_onnx
from ..running.runtimes import BACKENDS, create_runtime

SAME_SPEED = 1.1  # files within this factor of the fastest one's time count as equally fast


def write_int8_models(model, calibration_images, agreement_images=None, agreement_labels=None,
                      min_agreement=MIN_AGREEMENT, max_miou_drop=MAX_MIOU_DROP, search_seconds=0, ignore_index=255):
    """Quantize ``model``'s (an ExportedModel's) ONNX model with each installed quantizer and give
    each installed int8 runtime its file (see above); returns the model with the choices and their
    measurements added to its deploy section (the caller writes deploy.yaml).

    Where none of the three files agrees ``min_agreement`` on a runtime and ``search_seconds`` is
    not 0, ``int8_search`` looks for the fewest layers to keep fp32 from each one faster than fp32
    there, fastest first, in about that many seconds in all; their files join the choice and
    ``INT8_SEARCH_KEY`` records their results.

    Args:
        calibration_images (list[np.ndarray]): Preprocessed (C, H, W) float32 images, as the model
            gets them at inference; a few dozen from the training set are plenty.
        agreement_images (list[np.ndarray], optional): Preprocessed images the choice measures the
            agreement with fp32 on (default: the calibration images).
        agreement_labels (list[np.ndarray], optional): Their (H, W) ground truth: the search then
            also keeps the mIoU drop to ``max_miou_drop`` (a fraction).
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
    scores, chosen, searched = {}, {}, {}
    for backend, key in (("onnxruntime", ONNX_INT8_KEY), ("openvino", OPENVINO_INT8_KEY)):
        if BACKENDS[backend].unavailable(model.updated(**{key: INT8_FILE}), "cpu", "int8"):
            continue
        fp32 = reference if backend == "onnxruntime" else create_runtime(model, backend, precision="fp32")
        scores[backend] = {model.get(ONNX_KEY): {"agreement": 1.0, "ms": _milliseconds(fp32, batches[0])}}

        def score(candidate):
            name = os.path.basename(candidate)
            runtime = create_runtime(model.updated(**{key: name}), backend, precision="int8")
            agreement = pixel_agreement([_labels(runtime(batch)) for batch in batches], expected)
            scores[backend][name] = {"agreement": round(agreement, 5), "ms": _milliseconds(runtime, batches[0])}

        for candidate in candidates:
            score(candidate)
        fp32_file = model.get(ONNX_KEY)
        chosen[key] = choose_int8_file(scores[backend], fp32_file=fp32_file, min_agreement=min_agreement)
        if search_seconds and scores[backend][chosen[key]]["agreement"] < min_agreement:
            found = search_from_recipes(
                onnx_file, os.path.join(model.directory, SEARCH_FILE.format(runtime=backend, recipe="{recipe}")),
                search_starts(scores[backend], fp32_file), backend, calibration_images,
                agreement_images or calibration_images, search_seconds, labels=agreement_labels,
                min_agreement=min_agreement, max_miou_drop=max_miou_drop, ignore_index=ignore_index)
            searched[backend] = {recipe: dict(result.as_dict(), int8_file=os.path.basename(result.int8_file))
                                 for recipe, result in found.items()}
            for result in found.values():
                candidates.append(result.int8_file)
                score(result.int8_file)
            chosen[key] = choose_int8_file(scores[backend], fp32_file=fp32_file, min_agreement=min_agreement)
    for candidate in candidates:
        if os.path.basename(candidate) not in chosen.values():
            os.remove(candidate)
    return model.updated(**chosen, **{INT8_SCORES_KEY: scores}, **({INT8_SEARCH_KEY: searched} if searched else {}))


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


def search_starts(scores, fp32_file):
    """The recipes the search starts from, fastest first: those faster than fp32 on this runtime (a
    file the choice leaves out for its speed is no start), else all of them."""
    recipes = {recipe: scores[name] for recipe, name in RECIPE_FILES.items() if name in scores}
    faster = {recipe: score for recipe, score in recipes.items() if score["ms"] < scores[fp32_file]["ms"]}
    candidates = faster or recipes
    return sorted(candidates, key=lambda recipe: candidates[recipe]["ms"])


def _milliseconds(runtime, batch):
    """``runtime``'s best time of three on ``batch``, in ms."""
    return round(1000 * min(seconds(runtime, batch) for _ in range(3)), 2)


def _labels(output):
    """Class labels of a model output: itself after an argmax, else its argmax over the classes."""
    return output if output.ndim == 3 else output.argmax(1)
