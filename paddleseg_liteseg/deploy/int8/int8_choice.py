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
from .int8_scores import Int8Score, scores_to_dict
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
    fp32_file = model.get(ONNX_KEY)
    scores, chosen, searched = {}, {}, {}
    for backend, key in (("onnxruntime", ONNX_INT8_KEY), ("openvino", OPENVINO_INT8_KEY)):
        if BACKENDS[backend].unavailable(model.updated(**{key: INT8_FILE}), "cpu", "int8"):
            continue
        fp32 = reference if backend == "onnxruntime" else create_runtime(model, backend, precision="fp32")
        scores[backend] = {fp32_file: Int8Score(1.0, _milliseconds(fp32, batches[0]))}
        scores[backend].update(_scores(model, key, backend, candidates, batches, expected))
        chosen[key] = choose_int8_file(scores[backend], fp32_file=fp32_file, min_agreement=min_agreement)
        if search_seconds and scores[backend][chosen[key]].agreement < min_agreement:
            starts = search_starts({name: score.ms for name, score in scores[backend].items()}, fp32_file)
            found = search_from_recipes(
                onnx_file, os.path.join(model.directory, SEARCH_FILE.format(runtime=backend, recipe="{recipe}")),
                starts, backend, calibration_images, agreement_images or calibration_images, search_seconds,
                labels=agreement_labels, min_agreement=min_agreement, max_miou_drop=max_miou_drop,
                ignore_index=ignore_index)
            searched[backend] = {recipe: dict(result.as_dict(), int8_file=os.path.basename(result.int8_file))
                                 for recipe, result in found.items()}
            found_files = [result.int8_file for result in found.values()]
            candidates += found_files
            scores[backend].update(_scores(model, key, backend, found_files, batches, expected))
            chosen[key] = choose_int8_file(scores[backend], fp32_file=fp32_file, min_agreement=min_agreement)
    for candidate in candidates:
        if os.path.basename(candidate) not in chosen.values():
            os.remove(candidate)
    return model.updated(**chosen, **{INT8_SCORES_KEY: scores_to_dict(scores)},
                         **({INT8_SEARCH_KEY: searched} if searched else {}))


def choose_int8_file(scores, fp32_file=None, min_agreement=MIN_AGREEMENT):
    """Of the files agreeing enough, the most agreeing of those about as fast as the fastest (a
    file just above the threshold on some images may fall below it on others); where none agrees
    enough, the most agreeing. Files slower than ``fp32_file`` are left out unless all are.

    Args:
        scores (dict): {file: Int8Score}, ``fp32_file``'s among them when given.
    """
    files = {name: score for name, score in scores.items() if name != fp32_file}
    if fp32_file is not None:
        files = {name: score for name, score in files.items() if score.ms < scores[fp32_file].ms} or files
    agreeing = [name for name, score in files.items() if score.agreement >= min_agreement]
    if agreeing:
        fastest = min(files[name].ms for name in agreeing)
        agreeing = [name for name in agreeing if files[name].ms <= SAME_SPEED * fastest]
    return max(agreeing or files, key=lambda name: files[name].agreement)


def search_starts(milliseconds, fp32_file):
    """The recipes the search starts from, fastest first: those faster than fp32 on this runtime (a
    file the choice leaves out for its speed is no start), else all of them.

    Args:
        milliseconds (dict): {file: ms on this runtime} of the recipes' files and ``fp32_file``.
    """
    recipes = {recipe: milliseconds[name] for recipe, name in RECIPE_FILES.items() if name in milliseconds}
    faster = {recipe: ms for recipe, ms in recipes.items() if ms < milliseconds[fp32_file]}
    candidates = faster or recipes
    return sorted(candidates, key=candidates.get)


def _scores(model, key, backend, int8_files, batches, expected):
    """{file name: Int8Score} of ``int8_files``, each run by ``backend`` as ``model``'s ``key`` file
    on ``batches`` and compared with fp32's ``expected`` labels."""
    scores = {}
    for int8_file in int8_files:
        name = os.path.basename(int8_file)
        runtime = create_runtime(model.updated(**{key: name}), backend, precision="int8")
        agreement = pixel_agreement([_labels(runtime(batch)) for batch in batches], expected)
        scores[name] = Int8Score(round(agreement, 5), _milliseconds(runtime, batches[0]))
    return scores


def _milliseconds(runtime, batch):
    """``runtime``'s best time of three on ``batch``, in ms."""
    return round(1000 * min(seconds(runtime, batch) for _ in range(3)), 2)


def _labels(output):
    """Class labels of a model output: itself after an argmax, else its argmax over the classes."""
    return output if output.ndim == 3 else output.argmax(1)
