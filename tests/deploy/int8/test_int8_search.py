"""Accuracy-aware int8 on the toy-trained model: layers kept fp32 only while the bar is unmet,
never a model agreeing less than its recipe's, the time limit kept, the result in deploy.yaml,
and 7-bit weights where the CPU's int8 products are not exact."""
import os
import shutil

import cv2
import numpy as np
import pytest

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.deploy import ExportedModel, create_runtime
from paddleseg_liteseg.deploy.int8.fp32_layers import keep_fp32
from paddleseg_liteseg.deploy.int8.int8_choice import search_starts, write_int8_models
from paddleseg_liteseg.deploy.int8.int8_search import HISTOGRAM_IMAGES, OPTIONS, search_from_recipes, search_int8
from paddleseg_liteseg.deploy.exporting.model_files import INT8_SCORES_KEY, INT8_SEARCH_KEY, RECIPE_FILES
from paddleseg_liteseg.deploy.int8 import quantize
from paddleseg_liteseg.deploy.int8.quantize import fold_batch_norms, quantize_nncf, quantize_onnx, spread

onnx = pytest.importorskip("onnx", reason="needs the [onnx] extra")
pytest.importorskip("onnxruntime", reason="needs the [onnx] extra")
pytest.importorskip("paddle2onnx", reason="needs the [onnx] extra")
SEARCH_OVERRUN = 90  # seconds a search may take beyond its limit here: one quantization, on a busy machine


@pytest.fixture(scope="module")
def toy_data(exported, toy_model, helpers):
    """The exported fp32 model, 8 training images to calibrate on, and the val images with their labels."""
    def split(name):
        lines = [line.split() for line in (toy_model.root / f"{name}.txt").read_text().splitlines()]
        images = helpers.normalize([cv2.imread(str(toy_model.root / image)) for image, _ in lines])
        labels = [cv2.imread(str(toy_model.root / label), cv2.IMREAD_GRAYSCALE) for _, label in lines]
        return list(images), labels

    calibration, _ = split("train")
    images, labels = split("val")
    return os.path.join(exported, "model.onnx"), calibration[::max(1, len(calibration) // 8)][:8], images, labels


def _agreement(int8_file, images, onnx_file):
    """onnxruntime int8 of ``int8_file`` against onnxruntime fp32 of ``onnx_file``, share of equal pixels."""
    model_dir = os.path.dirname(int8_file)
    shutil.copyfile(onnx_file, os.path.join(model_dir, "model.onnx"))
    model = ExportedModel(model_dir, {"onnx": "model.onnx", "onnx_int8": os.path.basename(int8_file)})
    fp32 = create_runtime(model, "onnxruntime")
    int8 = create_runtime(model, "onnxruntime", precision="int8")
    return float(np.mean([(int8(image[np.newaxis]) == fp32(image[np.newaxis])).mean() for image in images]))


def test_a_bar_the_recipe_meets_keeps_no_further_layer_fp32(toy_data, tmp_path):
    onnx_file, calibration, images, _ = toy_data
    found = search_int8(onnx_file, str(tmp_path / "found.onnx"), "onnxruntime_conv", "onnxruntime", calibration, images,
                        min_agreement=0, time_limit=60)
    assert (found.fp32_layers, found.models, found.stopped, found.met) == ([], 1, "met", True)
    assert found.options == {"calibration_method": "MinMax"}
    assert len(found.recipe_fp32_layers) == 2  # the first convolution and the classifier, as the recipe has them
    recipe = quantize_onnx(fold_batch_norms(onnx_file, str(tmp_path / "folded.onnx")), str(tmp_path / "recipe.onnx"),
                           calibration, convolutions_only=True)
    assert found.agreement == pytest.approx(_agreement(recipe, images, onnx_file), abs=1e-4)


@pytest.mark.slow
def test_an_unmet_bar_keeps_layers_fp32_until_it_is_met(toy_data, tmp_path):
    """A bar halfway from what the quantizer's options reach to 1: met by keeping some layers, not
    all, fp32, and not met with the last of them quantized again."""
    onnx_file, calibration, images, _ = toy_data
    folded = fold_batch_norms(onnx_file, str(tmp_path / "folded.onnx"))

    def conv_int8(name, options):
        used = calibration if options["calibration_method"] == "MinMax" else spread(calibration, HISTOGRAM_IMAGES)
        return quantize_onnx(folded, str(tmp_path / name), used, convolutions_only=True, **options)

    reached = max(_agreement(conv_int8(f"option{index}.onnx", options), images, onnx_file)
                  for index, options in enumerate(OPTIONS["onnxruntime"]))
    bar = (1 + reached) / 2
    found = search_int8(onnx_file, str(tmp_path / "found.onnx"), "onnxruntime_conv", "onnxruntime", calibration,
                        images, min_agreement=bar, time_limit=600)
    assert found.met and found.stopped == "met" and found.agreement >= bar
    layers = [node for node in onnx.load(onnx_file).graph.node if node.op_type in ("Conv", "MatMul")]
    assert found.fp32_layers and len(found.fp32_layers) < len(layers) - len(found.recipe_fp32_layers)
    assert not set(found.fp32_layers) & set(found.recipe_fp32_layers)
    assert found.ranked_layers > 0
    assert _agreement(found.int8_file, images, onnx_file) == pytest.approx(found.agreement, abs=1e-4)
    one_fewer = keep_fp32(conv_int8("best.onnx", found.options), folded, found.fp32_layers[:-1],
                          str(tmp_path / "one_fewer.onnx"))
    assert _agreement(one_fewer, images, onnx_file) < bar


@pytest.mark.slow
def test_an_unreachable_bar_stops_at_the_time_limit_with_the_best_found(toy_data, tmp_path):
    """A bar only the fp32 model itself meets (100% of the pixels, 0 mIoU points lost) and a limit
    shorter than the quantizer's calibration options take on any CPU (with more time, enough
    layers put back to fp32 do meet it): the search stops at its limit, with a model agreeing at
    least as well as the recipe's."""
    onnx_file, calibration, images, labels = toy_data
    recipe = quantize_onnx(fold_batch_norms(onnx_file, str(tmp_path / "folded.onnx")), str(tmp_path / "recipe.onnx"),
                           calibration)
    limit = 1
    found = search_int8(onnx_file, str(tmp_path / "found.onnx"), "onnxruntime", "onnxruntime", calibration, images,
                        labels, min_agreement=1, max_miou_drop=0, time_limit=limit)
    assert (found.met, found.stopped) == (False, "time limit")
    assert found.seconds < limit + SEARCH_OVERRUN
    assert found.agreement >= _agreement(recipe, images, onnx_file) - 1e-4
    assert found.miou_drop is not None


@pytest.mark.slow
def test_deploy_yaml_records_each_runtimes_search(toy_data, exported, tmp_path):
    """With an unreachable bar, export's int8 runs the search for each int8 runtime and
    deploy.yaml says which layers stayed fp32 and what was measured."""
    onnx_file, calibration, images, labels = toy_data
    shutil.copyfile(onnx_file, tmp_path / "model.onnx")
    deploy = {key: value for key, value in ExportedModel.read(exported).deploy.items() if "int8" not in key}
    write_int8_models(ExportedModel(tmp_path, deploy), calibration, images, labels, min_agreement=1,
                      max_miou_drop=0, search_seconds=5).write()
    recorded = ExportedModel.read(tmp_path).deploy
    assert set(recorded[INT8_SEARCH_KEY]) == set(recorded[INT8_SCORES_KEY])  # every int8 runtime searched
    for runtime, searches in recorded[INT8_SEARCH_KEY].items():
        fp32_ms = recorded[INT8_SCORES_KEY][runtime]["model.onnx"]["ms"]
        recipes = {recipe: recorded[INT8_SCORES_KEY][runtime][file]["ms"] for recipe, file in RECIPE_FILES.items()}
        faster = {recipe for recipe, ms in recipes.items() if ms < fp32_ms}
        assert set(searches) == (faster or set(recipes))
        for recipe, search in searches.items():
            assert search["recipe"] == recipe and search["int8_file"] in recorded[INT8_SCORES_KEY][runtime]
            assert isinstance(search["fp32_layers"], list) and isinstance(search["recipe_fp32_layers"], list)
            assert 0 <= search["agreement"] < 1 and search["miou_drop"] is not None and search["met"] is False
            assert search["seconds"] >= 0 and search["models"] >= 1


def test_searches_start_from_the_recipes_faster_than_fp32_fastest_first():
    milliseconds = {"model.onnx": 100, "model_int8.onnx": 40, "model_int8_conv.onnx": 70, "model_int8_nncf.onnx": 120}
    assert search_starts(milliseconds, "model.onnx") == ["onnxruntime", "onnxruntime_conv"]
    slower = {name: 200 for name in RECIPE_FILES.values()}
    assert search_starts(dict(slower, **{"model.onnx": 100}), "model.onnx") == list(RECIPE_FILES)


@pytest.mark.slow
def test_searches_from_several_recipes_share_the_time_limit(toy_data, tmp_path):
    """A bar only fp32 meets and a limit shorter than one search's calibration options: every
    search runs out of time, and together they keep to the limit."""
    onnx_file, calibration, images, labels = toy_data
    limit = 2
    found = search_from_recipes(onnx_file, str(tmp_path / "search_{recipe}.onnx"), ["onnxruntime", "onnxruntime_conv"],
                                "onnxruntime", calibration, images, limit, labels=labels, min_agreement=1,
                                max_miou_drop=0)
    assert list(found) == ["onnxruntime", "onnxruntime_conv"]
    assert all(result.stopped == "time limit" and os.path.exists(result.int8_file) for result in found.values())
    assert sum(result.seconds for result in found.values()) < limit + SEARCH_OVERRUN


def _weight_levels(onnx_file):
    """{weight: largest |quantized value|} of the int8 weights of convolutions with more than one
    input channel per group (NNCF leaves depthwise ones at 8 bits: no pairs summed there)."""
    from onnx import numpy_helper

    graph = onnx.load(onnx_file).graph
    values = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    values.update({node.output[0]: numpy_helper.to_array(node.attribute[0].t)
                   for node in graph.node if node.op_type == "Constant"})
    values.update({node.output[0]: values[node.input[0]] for node in graph.node
                   if node.op_type == "Identity" and node.input[0] in values})
    levels = {}
    for node in graph.node:
        weight = values.get(node.input[0]) if node.input else None
        if weight is None or weight.ndim != 4 or weight.shape[1] == 1:
            continue
        if node.op_type == "DequantizeLinear" and weight.dtype == np.int8:  # onnxruntime: int8 weights
            levels[node.input[0]] = int(np.abs(weight.astype(int)).max())
        elif node.op_type == "QuantizeLinear":  # NNCF: fp32 weights quantized by their scales
            scale = values[node.input[1]].reshape(-1, 1, 1, 1)
            levels[node.input[0]] = int(np.abs(np.round(weight / scale)).max())
    return levels


@pytest.mark.slow
@pytest.mark.parametrize("exact", [False, True], ids=["avx2", "vnni"])
def test_weights_keep_to_7_bits_where_int8_products_are_not_exact(toy_data, tmp_path, monkeypatch, exact):
    pytest.importorskip("nncf", reason="needs the [openvino] extra")
    onnx_file, calibration, _, _ = toy_data
    monkeypatch.setattr(quantize, "int8_products_exact", lambda: exact)
    folded = fold_batch_norms(onnx_file, str(tmp_path / "folded.onnx"))
    for int8_file in (quantize_onnx(folded, str(tmp_path / "onnxruntime.onnx"), calibration[:2]),
                      quantize_nncf(onnx_file, str(tmp_path / "nncf.onnx"), calibration[:2])):
        levels = _weight_levels(int8_file)
        assert levels, int8_file
        assert max(levels.values()) == (127 if exact else 64), int8_file


def test_export_refuses_a_negative_search_time(toy_model, capsys):
    assert main(["export", "--config", toy_model.config, "--int8", "--int8_search_seconds", "-1"]) == 1
    assert "--int8_search_seconds must be >= 0, got -1" in capsys.readouterr().err
