"""Accuracy-aware int8: from one of export's int8 recipes, the fewest layers kept fp32 that bring
its model to the bar (pixel agreement with fp32 and, where labels are given, the mIoU drop), within
a time limit.

Models are scored on the runtime they are for, against onnxruntime fp32 on the same images.

1. The quantizer's own options, one model each, the recipe's own first: onnxruntime's calibration
   methods (MinMax, Percentile, Entropy: the last two clip rare activation extremes, and calibrate
   on ``HISTOGRAM_IMAGES`` of the images, as onnxruntime keeps every activation of every image in
   memory for them); NNCF's full bias correction and its activation range estimators. Where one
   meets the bar, no layer is kept fp32. SmoothQuant does not apply: NNCF runs it on transformers
   only, onnxruntime through Intel Neural Compressor. The rest starts from the most agreeing one.
2. The layers the recipe quantizes (the nodes reading a dequantized tensor in its model:
   convolutions, matrix products and, for NNCF and onnxruntime's every-operator recipe, additions,
   multiplications, pooling, ...) are ranked by sensitivity: the share of pixels that change on the
   runtime when only that layer is quantized. Layers not ranked within half the time left follow,
   last layers first.
3. The shortest prefix of that ranking whose layers kept fp32 meet the bar, by doubling then
   bisecting: about 2 log2(layers) models, not one per layer.

Every model of 2 and 3 is the most agreeing model of 1 with layers put back to fp32 in its graph
(``fp32_layers.keep_fp32``), not quantized again: seconds a model, and the other layers keep the
ranges calibrated with every layer quantized, as NNCF's ``quantize_with_accuracy_control`` keeps
them. The time limit is checked before each model, so a search can overrun it by one model (or
by one quantization in 1). The result is the met model with the fewest layers kept fp32, else the
most agreeing model tried: never one agreeing less than the recipe's own.

NNCF's ``quantize_with_accuracy_control`` does 2 and 3 for NNCF's model on OpenVINO alone, bounded
by a number of layers rather than seconds and ranking by reverting each quantizer of the full
model in turn; this search serves onnxruntime's quantizer and runtime too and keeps to its time.
"""
import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections import namedtuple

import numpy as np

from ...errors import UserError
from ...evaluation.confusion import mean_iou
from .agreement import MAX_MIOU_DROP, MIN_AGREEMENT
from ..exporting.exported_model import ExportedModel
from .fp32_layers import keep_fp32
from ..exporting.model_files import ONNX_INT8_KEY, ONNX_KEY, OPENVINO_INT8_KEY, RECIPE_FILES
from .quantize import fold_batch_norms, fp32_convolutions, quantize_nncf, quantize_onnx, spread
from ..running.runtimes import create_runtime

RECIPES = tuple(RECIPE_FILES)  # export's three fixed recipes (quantize.py)
OPTIONS = {
    "onnxruntime": [{"calibration_method": method} for method in ("MinMax", "Percentile", "Entropy")],
    "nncf": [{}, {"fast_bias_correction": False}, {"activation_ranges": "MINMAX"},
             {"activation_ranges": "HISTOGRAM"}],
}
RANKING_IMAGES = 4
HISTOGRAM_IMAGES = 8
RUNTIME_KEYS = {"onnxruntime": ONNX_INT8_KEY, "openvino": OPENVINO_INT8_KEY}
INT8_SEARCH_SECONDS = 300.0  # a runtime's search time, all its starts together (export's default too)


@dataclasses.dataclass
class SearchResult:
    """What ``search_int8`` wrote: the model, what was kept fp32, and what it measured."""

    int8_file: str
    recipe: str
    options: dict  # the quantizer options of the model written
    recipe_fp32_layers: list  # layers the recipe itself keeps fp32
    fp32_layers: list  # layers the search kept fp32 beyond those
    ranked_layers: int  # layers whose sensitivity was measured before the time for it ran out
    agreement: float  # share of pixels equal to fp32's
    miou_drop: float  # fp32's mIoU minus this model's (a fraction); None without labels
    met: bool
    stopped: str  # why the search stopped: "met", "time limit" or "no layer left"
    models: int  # models quantized and scored
    seconds: float

    def as_dict(self):
        return dataclasses.asdict(self)


_Score = namedtuple("_Score", ["agreement", "miou_drop", "met"])
_Tried = namedtuple("_Tried", ["path", "options", "fp32_layers", "score"])  # a model the search scored


def search_int8(onnx_file, int8_file, recipe, runtime, calibration_images, agreement_images, labels=None,
                min_agreement=MIN_AGREEMENT, max_miou_drop=MAX_MIOU_DROP, time_limit=INT8_SEARCH_SECONDS,
                ignore_index=255, threads=None, reduce_range=None):
    """Write to ``int8_file`` the int8 model of ``recipe`` with the fewest layers kept fp32 that
    meets the bar on ``runtime`` (see above), within about ``time_limit`` seconds.

    Args:
        onnx_file (str): The fp32 ONNX model (export's ``model.onnx``).
        recipe (str): One of ``RECIPES``: onnxruntime's quantizer on every operator type or on
            convolutions only, or NNCF's mixed preset.
        runtime (str): "onnxruntime" or "openvino": the runtime the model is scored on.
        calibration_images, agreement_images (list[np.ndarray]): Preprocessed (C, H, W) float32
            images: to calibrate on, and to compare with fp32 on.
        labels (list[np.ndarray], optional): (H, W) ground truth of ``agreement_images``, at the
            model's output size; given, the bar also holds the mIoU drop to ``max_miou_drop``.
        min_agreement (float): Smallest share of pixels equal to fp32's.
        max_miou_drop (float): Largest mIoU drop against fp32, as a fraction (0.005: 0.5 points).
        time_limit (float): Seconds the search may take (see above).
        reduce_range (bool): 7-bit weights; None: where the CPU's int8 products need them
            (``quantize.quantize_onnx``).
    Returns:
        SearchResult
    """
    started = time.perf_counter()
    if recipe not in RECIPES:
        raise UserError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    if runtime not in RUNTIME_KEYS:
        raise UserError(f"runtime must be one of {sorted(RUNTIME_KEYS)}, got {runtime!r}")
    if not agreement_images:
        raise UserError("the int8 search needs agreement images")
    if not 0 <= min_agreement <= 1:
        raise UserError(f"min_agreement must be between 0 and 1, got {min_agreement}")
    if max_miou_drop < 0 or time_limit < 0:
        raise UserError(f"max_miou_drop and time_limit must be >= 0, got {max_miou_drop} and {time_limit}")
    if labels is not None and len(labels) != len(agreement_images):
        raise UserError(f"{len(labels)} labels for {len(agreement_images)} agreement images")
    deadline = started + time_limit
    ranked = 0
    with tempfile.TemporaryDirectory() as work:
        expected = [_labels(output)[0]
                    for output in _outputs(onnx_file, "onnxruntime", "fp32", agreement_images, threads)]
        scorer = _Scorer(agreement_images, expected, labels, min_agreement, max_miou_drop, ignore_index, threads)
        quantizer = _Quantizer(onnx_file, recipe, work, calibration_images, reduce_range)
        tried = []

        def attempt(options, fp32_layers):
            path = quantizer(options, fp32_layers, os.path.join(work, f"candidate{len(tried)}.onnx"))
            tried.append(_Tried(path, options, list(fp32_layers), scorer(path, runtime)))
            return tried[-1].score

        for options in OPTIONS[quantizer.name]:
            if tried and time.perf_counter() > deadline:
                break
            if attempt(options, []).met:
                break
        best_options = max(tried, key=lambda entry: entry.score.agreement).options
        stopped = "met" if tried[-1].score.met else "time limit"
        if not tried[-1].score.met and time.perf_counter() < deadline:
            now = time.perf_counter()
            layers, ranked = _ranked_layers(quantizer, best_options, quantizer.searchable_layers(tried[0].path),
                                            runtime, scorer.subset(RANKING_IMAGES), now + (deadline - now) / 2)
            stopped = _shortest_prefix(layers, lambda count: attempt(best_options, layers[:count]), deadline)
        path, options, fp32_layers, score = _best(tried)
        shutil.copyfile(path, int8_file)
    return SearchResult(int8_file, recipe, options, quantizer.recipe_fp32_layers, fp32_layers, ranked,
                        round(score.agreement, 5), None if score.miou_drop is None else round(score.miou_drop, 5),
                        score.met, stopped, len(tried), round(time.perf_counter() - started, 1))


def search_from_recipes(onnx_file, int8_file_pattern, recipes, runtime, calibration_images, agreement_images,
                        time_limit=INT8_SEARCH_SECONDS, **options):
    """``search_int8`` from each of ``recipes`` in turn, sharing ``time_limit``: each search gets the
    time left divided by the searches left, so time one does not need goes to the next. Which
    start ends fastest is not known beforehand: the fastest recipe often loses most (it quantizes
    most operators), yet a few layers kept fp32 may bring it to the bar and still beat a slower
    recipe that is already there.

    Args:
        int8_file_pattern (str): Where each search writes, with ``{recipe}`` in it.
        recipes (list[str]): Recipes to start from, in the order to try them.
        options: ``search_int8``'s further arguments.
    Returns:
        dict: {recipe: SearchResult}.
    """
    deadline = time.perf_counter() + time_limit
    found = {}
    for index, recipe in enumerate(recipes):
        share = max(0.0, deadline - time.perf_counter()) / (len(recipes) - index)
        found[recipe] = search_int8(onnx_file, int8_file_pattern.format(recipe=recipe), recipe, runtime,
                                    calibration_images, agreement_images, time_limit=share, **options)
    return found


def _best(tried):
    """The met model with the fewest layers kept fp32, else the most agreeing (then fewest layers)."""
    met = [entry for entry in tried if entry.score.met]
    if met:
        return min(met, key=lambda entry: len(entry.fp32_layers))
    return max(tried, key=lambda entry: (entry.score.agreement, -len(entry.fp32_layers)))


def _shortest_prefix(layers, meets, deadline):
    """Grow the prefix of ``layers`` kept fp32 by doubling until ``meets(count)``, then bisect the
    last step; returns why it stopped ("met", "time limit", "no layer left")."""
    unmet, count = 0, 1
    while True:
        if not layers:
            return "no layer left"
        if time.perf_counter() > deadline:
            return "time limit"
        if meets(min(count, len(layers))).met:
            break
        if count >= len(layers):
            return "no layer left"
        unmet, count = count, 2 * count
    met = min(count, len(layers))
    while met - unmet > 1:
        if time.perf_counter() > deadline:
            break
        middle = (unmet + met) // 2
        if meets(middle).met:
            met = middle
        else:
            unmet = middle
    return "met"


def _ranked_layers(quantizer, options, layers, runtime, scorer, deadline):
    """``layers``, most sensitive first: the share of pixels ``scorer`` finds changed on ``runtime``
    when only that layer is quantized (the recipe's model with ``options``, every other layer kept
    fp32); those not reached by ``deadline`` follow, last layers first. Returns (layers, how many
    were ranked)."""
    flips = {}
    for layer in layers:
        if time.perf_counter() > deadline:
            break
        others = [other for other in layers if other != layer]
        path = quantizer(options, others, os.path.join(quantizer.work, "ranking.onnx"))
        flips[layer] = 1 - scorer(path, runtime).agreement
    unranked = [layer for layer in reversed(layers) if layer not in flips]
    return sorted(flips, key=flips.get, reverse=True) + unranked, len(flips)


class _Quantizer:
    """One recipe's quantizer: ``quantizer(options, fp32_layers, path)`` writes to ``path`` its
    model with those options (quantized once per options) and those layers kept fp32
    (``fp32_layers.keep_fp32``)."""

    def __init__(self, onnx_file, recipe, work, calibration_images, reduce_range):
        import onnx

        self.recipe, self.work = recipe, work
        self.calibration_images, self.reduce_range = calibration_images, reduce_range
        self.name = "nncf" if recipe == "nncf" else "onnxruntime"
        self.source_file = onnx_file  # the fp32 model the recipe quantizes
        if self.name == "onnxruntime":
            self.source_file = fold_batch_norms(onnx_file, os.path.join(work, f"folded_{recipe}.onnx"))
        self.recipe_fp32_layers = fp32_convolutions(self.source_file) if recipe != "onnxruntime" else []
        self.convolutions_only = recipe == "onnxruntime_conv"
        self.nodes = [node.name for node in onnx.load(self.source_file, load_external_data=False).graph.node]
        self.quantized = {}  # options (as JSON) -> the model quantized with them

    def searchable_layers(self, int8_file):
        """The nodes of the fp32 model that read a dequantized tensor in ``int8_file`` (a model of
        this recipe), less those the recipe keeps fp32, in graph order."""
        import onnx

        graph = onnx.load(int8_file, load_external_data=False).graph
        dequantized = {node.output[0] for node in graph.node if node.op_type == "DequantizeLinear"}
        quantized = {node.name for node in graph.node if dequantized & set(node.input)}
        return [name for name in self.nodes if name in quantized and name not in self.recipe_fp32_layers]

    def __call__(self, options, fp32_layers, path):
        return keep_fp32(self.quantize(options), self.source_file, fp32_layers, path)

    def quantize(self, options):
        """The recipe's model with ``options``, every layer it quantizes quantized."""
        key = json.dumps(options, sort_keys=True)
        if key not in self.quantized:
            path = os.path.join(self.work, f"quantized{len(self.quantized)}.onnx")
            if self.name == "nncf":
                quantize_nncf(self.source_file, path, self.calibration_images, reduce_range=self.reduce_range,
                              **options)
            else:
                method = options["calibration_method"]
                images = self.calibration_images if method == "MinMax" else spread(self.calibration_images,
                                                                                   HISTOGRAM_IMAGES)
                quantize_onnx(self.source_file, path, images, convolutions_only=self.convolutions_only,
                              reduce_range=self.reduce_range, calibration_method=method)
            self.quantized[key] = path
        return self.quantized[key]


class _Scorer:
    """Agreement with the fp32 labels ``expected`` (and the mIoU drop, where labels are given) of
    int8 models on ``images``; ``met`` says whether one meets the bar."""

    def __init__(self, images, expected, labels, min_agreement, max_miou_drop, ignore_index, threads):
        self.images, self.expected, self.labels, self.threads = images, expected, labels, threads
        self.min_agreement, self.max_miou_drop, self.ignore_index = min_agreement, max_miou_drop, ignore_index
        self.num_classes = 1 + max(int(labels.max()) for labels in expected)
        if labels is not None:
            self.num_classes = max(self.num_classes, 1 + max(int(label[label != ignore_index].max(initial=0))
                                                             for label in labels))
            self.reference_miou = mean_iou(expected, labels, self.num_classes, ignore_index)

    def subset(self, count):
        """A scorer on ``count`` of the images, spread over them, by agreement alone."""
        step = max(1, len(self.images) // count)
        return _Scorer(self.images[::step][:count], self.expected[::step][:count], None, self.min_agreement,
                       self.max_miou_drop, self.ignore_index, self.threads)

    def __call__(self, int8_file, runtime):
        predicted = [_labels(output)[0] for output in _outputs(int8_file, runtime, "int8", self.images, self.threads)]
        agreement = float(np.mean([(a == b).mean() for a, b in zip(predicted, self.expected)]))
        miou_drop = None
        if self.labels is not None:
            miou_drop = self.reference_miou - mean_iou(predicted, self.labels, self.num_classes, self.ignore_index)
        met = agreement >= self.min_agreement and (miou_drop is None or miou_drop <= self.max_miou_drop)
        return _Score(agreement, miou_drop, met)


def _outputs(onnx_file, runtime, precision, images, threads):
    """``runtime``'s outputs of ``onnx_file`` at ``precision`` (int8: as its int8 model), an image a run."""
    model_dir, name = os.path.split(os.path.abspath(onnx_file))
    run = create_runtime(ExportedModel(model_dir, {ONNX_KEY: name, RUNTIME_KEYS[runtime]: name}), runtime,
                         precision=precision, threads=threads)
    return [run(image[np.newaxis]) for image in images]


def _labels(output):
    """Class labels of a model output: itself after an argmax, else its argmax over the classes."""
    return output if output.ndim == 3 else output.argmax(1)
