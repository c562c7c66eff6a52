"""The device files as backends on this CPU: ``paddleseg infer --backend ncnn|tflite`` writes the
labels the files' own runtimes give, the Predictor runs them, and ``tune`` and ``bench`` time them
beside the other runtimes."""
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from paddleseg_liteseg import Predictor
from paddleseg_liteseg.cli import main
from paddleseg_liteseg.deploy.exporting.exported_model import ExportedModel, labels_from_output
from paddleseg_liteseg.deploy.running.tuning_file import read_entries

from deploy.devices.conftest import installed
from deploy.devices.own_runtimes import FILES, own_runtime_logits


@pytest.mark.slow
@pytest.mark.parametrize("format,precision", FILES)
def test_infer_writes_the_labels_of_the_files_own_runtime(device_export, toy_model, format, precision, tmp_path):
    model = ExportedModel.read(device_export["dir"])
    image_dir = toy_model.root / "leftImg8bit" / "val"
    assert main(["infer", "--model_dir", device_export["dir"], "--image_path", str(image_dir), "--save_dir",
                 str(tmp_path), "--backend", format, "--precision", precision]) == 0
    paths = sorted(image_dir.rglob("*.png"))
    for path in paths:
        image = cv2.imread(str(path))
        data, trans_info = model.preprocess(image)
        expected = labels_from_output(own_runtime_logits(model, format, precision, data), trans_info)
        written = np.asarray(Image.open(tmp_path / "pseudo_color_prediction" / path.relative_to(image_dir)))
        assert written.shape == image.shape[:2] and (written == expected).all()


@pytest.mark.slow
def test_the_predictor_runs_a_device_file(device_export, val_images):
    predictor = Predictor(device_export["dir"], backend="tflite", precision="fp16")
    labels = predictor.predict(val_images[0])
    reference = Predictor(device_export["dir"], backend="onnxruntime", precision="fp32").predict(val_images[0])
    assert labels.shape == val_images[0].shape[:2] and (labels == reference).mean() >= 0.99


@pytest.mark.slow
def test_tune_times_the_device_files_beside_the_other_runtimes(device_export, toy_model):
    assert main(["tune", "--model_dir", device_export["dir"], "--image_path",
                 str(toy_model.root / "leftImg8bit" / "val"), "--tune_repeats", "10", "--tune_seconds", "5"]) == 0
    entries = read_entries(device_export["dir"])
    assert len(entries) == 1
    timed = {(row.backend, row.precision) for row in entries[0].rows if row.median_ms}
    assert set(FILES) <= timed


@pytest.mark.slow
@pytest.mark.skipif(not installed("ncnn"), reason="needs the [ncnn] extra and pnnx")
def test_bench_times_the_ncnn_files_it_converts_and_checks(toy_model, tmp_path):
    """``bench --backend ncnn`` converts its own export (checked like export's) and times fp32 and fp16."""
    target = tmp_path / "bench.json"
    assert main(["bench", "--config", toy_model.config, "--model_path", toy_model.checkpoint,
                 "--input_shape", "1", "3", "64", "128", "--backend", "onnxruntime", "ncnn", "--repeats", "2",
                 "--warmup", "1", "--agreement_num", "4", "--save_json", str(target)]) == 0
    rows = {row["runtime"]: row for row in json.loads(target.read_text())["rows"]}
    assert {"onnxruntime fp32", "ncnn fp32", "ncnn fp16"} <= set(rows)
    assert rows["ncnn fp32"]["agreement"] >= 0.999 and rows["ncnn fp16"]["agreement"] >= 0.99
