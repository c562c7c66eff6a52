"""Every backend agrees with the dygraph model it was exported from, at two input sizes; bf16 where
the CPU has bf16 instructions; each backend is told its precision."""
import importlib.util

import cv2
import numpy as np
import pytest

from paddleseg_liteseg.deploy import ExportedModel, create_runtime
from paddleseg_liteseg.deploy.exporting.export import write_inference_model as export
from paddleseg_liteseg.deploy.running import runtimes
from paddleseg_liteseg.deploy.running.cpu_features import bf16_unavailable
from paddleseg_liteseg.deploy.running.runtimes import BackendUnavailable, choose_backend
from paddleseg_liteseg.api import load
from paddleseg_liteseg.deploy.int8.agreement import pixel_agreement
from paddleseg_liteseg.deploy.int8.calibration_data import agreement_set
from paddleseg_liteseg.deploy.int8.int8_choice import choose_int8_file
from paddleseg_liteseg.deploy.int8.int8_scores import Int8Score, scores_from_dict
from paddleseg_liteseg.deploy.exporting.model_files import INT8_SCORES_KEY, ONNX_INT8_KEY, OPENVINO_INT8_KEY

FP32_AGREEMENT = 0.9999
INT8_SANITY_AGREEMENT = 0.95  # far below the bar export aims at: int8 that is not noise, on any CPU
EXPORT_CALIB_NUM = 16  # the `exported` fixture's --calib_num, which also counts its agreement images
BF16_AGREEMENT = 0.99


def _installed(module):
    return importlib.util.find_spec(module) is not None


BACKENDS = [
    "paddle",
    pytest.param("onnxruntime", marks=pytest.mark.skipif(not _installed("onnxruntime"),
                                                         reason="onnxruntime not installed ([onnx] extra)")),
    pytest.param("openvino", marks=pytest.mark.skipif(not _installed("openvino"),
                                                      reason="openvino not installed ([openvino] extra)")),
]


def _inputs(val_images, helpers, scale):
    """The val images at ``scale`` of their size, preprocessed as deploy.yaml says."""
    height, width = val_images[0].shape[:2]
    size = (int(width * scale), int(height * scale))
    return helpers.normalize([cv2.resize(image, size, interpolation=cv2.INTER_LINEAR) for image in val_images])


@pytest.fixture(scope="module")
def references(trained_model, val_images, helpers):
    """Dygraph labels of the val images at full size and at an odd 0.7 of it (one dynamic graph)."""
    batches = {scale: _inputs(val_images, helpers, scale) for scale in (1.0, 0.7)}
    return {scale: (batch, helpers.dygraph_labels(trained_model, batch)) for scale, batch in batches.items()}


@pytest.mark.parametrize("backend", BACKENDS)
def test_fp32_agrees_with_dygraph_at_two_sizes(backend, exported, references, request):
    if backend != "paddle":
        request.getfixturevalue("onnx_extra")
    runtime = create_runtime(ExportedModel.read(exported), backend)
    for scale, (batch, expected) in references.items():
        labels = runtime(batch)
        assert labels.shape == expected.shape
        assert (labels == expected).mean() >= FP32_AGREEMENT, (backend, scale)


@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_int8_agrees_with_fp32_as_its_export_recorded(backend, onnx_extra, exported, toy_model):
    """What export says of its int8 file is what it does: on the images export scored it on, the
    agreement with fp32 equals the one deploy.yaml records (whatever this CPU's int8 reaches in the
    time the search had), and the labels are still the model's, not noise."""
    model = ExportedModel.read(exported)
    images, _, _ = agreement_set(load(toy_model.config)[1], model.transforms, count=EXPORT_CALIB_NUM)
    batches = [image[np.newaxis] for image in images]
    fp32 = create_runtime(model, "onnxruntime", precision="fp32")
    int8 = create_runtime(model, backend, precision="int8")
    measured = pixel_agreement([int8(batch)[0] for batch in batches], [fp32(batch)[0] for batch in batches])
    int8_file = model.get(OPENVINO_INT8_KEY if backend == "openvino" else ONNX_INT8_KEY)
    assert measured == pytest.approx(scores_from_dict(model.get(INT8_SCORES_KEY))[backend][int8_file].agreement,
                                     abs=1e-5)
    assert measured >= INT8_SANITY_AGREEMENT


@pytest.mark.parametrize("backend", [BACKENDS[0], BACKENDS[2]])
def test_bf16_agrees_with_dygraph(backend, exported, references, request):
    if bf16_unavailable():
        pytest.skip(f"bf16: {bf16_unavailable()}")
    if backend != "paddle":
        request.getfixturevalue("onnx_extra")
    runtime = create_runtime(ExportedModel.read(exported), backend, precision="bf16")
    batch, expected = references[1.0]
    assert (runtime(batch) == expected).mean() >= BF16_AGREEMENT


@pytest.mark.skipif(not _installed("openvino"), reason="openvino not installed ([openvino] extra)")
def test_openvino_is_told_its_precision(onnx_extra, exported):
    """fp32 is asked for explicitly: OpenVINO would pick bf16 by itself on a CPU with bf16."""
    deploy = ExportedModel.read(exported)
    assert create_runtime(deploy, "openvino").config["INFERENCE_PRECISION_HINT"] == "f32"
    if not bf16_unavailable():
        assert create_runtime(deploy, "openvino", precision="bf16").config[
            "INFERENCE_PRECISION_HINT"] == "bf16"


def test_paddle_fp32_stays_fp32_and_bf16_is_bf16(trained_model, val_images, helpers, tmp_path):
    """oneDNN does not pick bf16 by itself: its fp32 logits match oneDNN off to fp32 rounding,
    while bf16 (where the CPU has it) differs by bf16 rounding."""
    deploy = export(trained_model, str(tmp_path), [{"type": "Normalize"}], output_op="none")
    batch = helpers.normalize(val_images[:2])
    plain = create_runtime(deploy, "paddle", threads=1, onednn=False)(batch)
    scale = np.abs(plain).max()
    fp32 = create_runtime(deploy, "paddle", threads=1)(batch)
    assert np.abs(fp32 - plain).max() / scale < 1e-4
    if not bf16_unavailable():
        bf16 = create_runtime(deploy, "paddle", precision="bf16", threads=1)(batch)
        assert np.abs(bf16 - plain).max() / scale > 1e-3


@pytest.mark.parametrize("backend", ["paddle", "openvino"])
def test_bf16_is_refused_where_the_cpu_lacks_it(backend, exported, monkeypatch):
    monkeypatch.setattr(runtimes, "bf16_unavailable", lambda: "this CPU has no bf16 instructions")
    with pytest.raises(BackendUnavailable, match="no bf16 instructions"):
        create_runtime(ExportedModel.read(exported), backend, precision="bf16")


def test_onnxruntime_says_it_has_no_bf16(exported):
    with pytest.raises(BackendUnavailable, match="no bf16 kernels"):
        create_runtime(ExportedModel.read(exported), "onnxruntime", precision="bf16")


def test_paddle_inference_runs_onednn_by_default(exported):
    """oneDNN is on, with the placement pass removed that crashes on the bilinear resize."""
    runtime = create_runtime(ExportedModel.read(exported), "paddle")
    assert runtime.config.onednn_enabled()


def test_fallback_order_is_onnxruntime_then_paddle_on_cpu(onnx_extra, exported):
    model = ExportedModel.read(exported)
    assert choose_backend(model) == "onnxruntime"
    int8 = "openvino" if _installed("openvino") else "onnxruntime"
    assert choose_backend(model, precision="int8") == int8
    without_onnx = {key: value for key, value in model.deploy.items() if not key.startswith("onnx")}
    assert choose_backend(ExportedModel(exported, without_onnx)) == "paddle"


def test_missing_runtime_names_the_extra(onnx_extra, exported, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "openvino" else real_find_spec(name, *args))
    with pytest.raises(BackendUnavailable, match=r"pip install 'paddleseg-liteseg\[openvino\]'"):
        create_runtime(ExportedModel.read(exported), "openvino")


def test_int8_without_an_int8_model_says_how_to_export_one(onnx_extra, exported):
    deploy = {key: value for key, value in ExportedModel.read(exported).deploy.items() if key != "onnx_int8"}
    with pytest.raises(BackendUnavailable, match="int8=True"):
        create_runtime(ExportedModel(exported, deploy), "onnxruntime", precision="int8")


def test_int8_file_choice_prefers_agreement_among_equally_fast_files():
    scores = {"a": Int8Score(agreement=0.991, ms=10.0), "b": Int8Score(agreement=0.996, ms=10.5),
              "c": Int8Score(agreement=0.999, ms=30.0), "d": Int8Score(agreement=0.98, ms=5.0)}
    assert choose_int8_file(scores) == "b"  # c agrees more but is much slower; d is fast but below 0.99
    assert choose_int8_file({"x": Int8Score(agreement=0.97, ms=1.0), "y": Int8Score(agreement=0.985, ms=9.0)}) == "y"


def test_int8_file_choice_leaves_out_files_slower_than_fp32_unless_all_are():
    scores = {"model.onnx": Int8Score(agreement=1.0, ms=8.0),
              "x": Int8Score(agreement=0.97, ms=4.0), "y": Int8Score(agreement=0.985, ms=9.0)}
    assert choose_int8_file(scores, fp32_file="model.onnx") == "x"  # y agrees more, but is slower than fp32
    scores["x"] = scores["x"]._replace(ms=12.0)
    assert choose_int8_file(scores, fp32_file="model.onnx") == "y"
