"""Choosing the runtime by measurement: the rules on a given table, tuning.json written by
``paddleseg tune`` and read by ``paddleseg infer``, and stale entries (other CPU, threads, shape) refused."""
import importlib.util
import json
import re
import shutil

import cv2
import numpy as np
import pytest

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.deploy import ExportedModel, runtime_choice, runtimes
from paddleseg_liteseg.deploy.model_files import TUNING_FILE
from paddleseg_liteseg.deploy.runtime_choice import choose_runtime
from paddleseg_liteseg.deploy.tune import Sample, measure, pick, tuning_samples
from paddleseg_liteseg.deploy.tuning_file import tuning_key
from paddleseg_liteseg.errors import UserError

SPEED_LINE = re.compile(r"^Speed: (\d+) images, model \d+\.\d ms/image \(median\), \d+\.\d images/s end to end$",
                        re.MULTILINE)
SHAPE = [1, 3, 128, 256]
DEPLOY = {"model": "model.json", "params": "model.pdiparams", "transforms": [{"type": "Normalize"}],
          "onnx": "model.onnx", "onnx_int8": "model_int8.onnx"}


def _row(backend, precision, ms, agreement, miou=None):
    row = {"backend": backend, "precision": precision, "median_ms": ms, "agreement": agreement}
    if miou is not None:
        row["miou"] = miou
    return row


def test_the_fastest_runtime_within_the_limits_is_chosen():
    rows = [_row("paddle", "fp32", 50, 1.0), _row("onnxruntime", "fp32", 20, 1.0),
            _row("openvino", "int8", 8, 0.97), _row("openvino", "bf16", 10, 0.995)]
    assert (pick(rows)["backend"], pick(rows)["precision"]) == ("openvino", "bf16")
    assert [row["eligible"] for row in rows] == [True, True, False, True]
    assert rows[2]["why_not"] == "agreement 0.97 < 0.99"
    assert pick(rows, min_agreement=0.999)["backend"] == "onnxruntime"


def test_a_runtime_losing_mIoU_is_not_chosen_however_it_agrees():
    rows = [_row("paddle", "fp32", 50, 1.0, miou=0.60), _row("openvino", "int8", 8, 0.991, miou=0.590),
            _row("openvino", "bf16", 10, 0.995, miou=0.598)]
    assert pick(rows)["precision"] == "bf16"
    assert "more than 0.005 below fp32's 0.6" in rows[1]["why_not"]
    rows[2]["miou"] = 0.5
    assert (pick(rows)["backend"], pick(rows)["precision"]) == ("paddle", "fp32")


def _write_entry(model_dir, key, backend="paddle", precision="fp32"):
    entry = {"key": key, "choice": {"backend": backend, "precision": precision}, "date": "2026-01-01",
             "rows": [], "skipped": {}}
    (model_dir / TUNING_FILE).write_text(json.dumps({"entries": [entry]}))


@pytest.fixture
def no_bf16(monkeypatch):
    """This CPU as one without bf16 instructions, so the capability choice is fp32 everywhere."""
    reason = "this CPU has no bf16 instructions"
    monkeypatch.setattr(runtime_choice, "bf16_unavailable", lambda: reason)
    monkeypatch.setattr(runtimes, "bf16_unavailable", lambda: reason)


def test_a_matching_entry_is_used(tmp_path, no_bf16):
    _write_entry(tmp_path, tuning_key("cpu", 1, SHAPE))
    choice = choose_runtime(ExportedModel(tmp_path, DEPLOY), threads=1, input_shape=SHAPE)
    assert (choice.backend, choice.precision) == ("paddle", "fp32")
    assert choice.reason.startswith("tuned on this machine")


@pytest.mark.parametrize("change, words", [
    ({"flags": ["amx_bf16"]}, "other CPU flags (amx_bf16)"),
    ({"input_shape": [1, 3, 256, 512]}, "input shape [1, 3, 256, 512] there, [1, 3, 128, 256] here"),
    ({"threads": 4}, "threads 4 there, 1 here"),
    ({"cpu": "Another CPU"}, "CPU Another CPU there"),
])
def test_a_stale_entry_is_not_used_and_the_reason_says_why(tmp_path, no_bf16, change, words):
    key = tuning_key("cpu", 1, SHAPE)
    key.update({name: sorted(set(key[name]) ^ set(value)) if name == "flags" else value
                for name, value in change.items()})
    _write_entry(tmp_path, key)
    choice = choose_runtime(ExportedModel(tmp_path, {k: v for k, v in DEPLOY.items() if not k.startswith("onnx")}),
                            threads=1, input_shape=SHAPE)
    assert (choice.backend, choice.precision) == ("paddle", "fp32")
    assert "CPU capability: no bf16 instructions" in choice.reason
    assert "stale" in choice.reason and words in choice.reason


def test_without_tuning_an_amx_cpu_runs_openvino_bf16(tmp_path, monkeypatch):
    if importlib.util.find_spec("openvino") is None:
        pytest.skip("openvino not installed ([openvino] extra)")
    monkeypatch.setattr(runtime_choice, "bf16_unavailable", lambda: None)
    monkeypatch.setattr(runtimes, "bf16_unavailable", lambda: None)
    monkeypatch.setattr(runtime_choice, "bf16_flags", lambda: ["amx_bf16"])
    monkeypatch.setattr(runtime_choice, "bf16_matrix_units", lambda: True)
    choice = choose_runtime(ExportedModel(tmp_path, DEPLOY), threads=1, input_shape=SHAPE)
    assert (choice.backend, choice.precision) == ("openvino", "bf16")
    assert choice.reason.startswith("CPU capability: amx_bf16; no tuning.json")


def test_without_tuning_avx512_bf16_without_amx_runs_fp32_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime_choice, "bf16_unavailable", lambda: None)
    monkeypatch.setattr(runtime_choice, "bf16_flags", lambda: ["avx512_bf16"])
    monkeypatch.setattr(runtime_choice, "bf16_matrix_units", lambda: False)
    choice = choose_runtime(ExportedModel(tmp_path, DEPLOY), threads=1, input_shape=SHAPE)
    assert choice.precision == "fp32"
    assert choice.reason.startswith("CPU capability: avx512_bf16 without AMX, where bf16 is not reliably faster")


def test_forced_backend_and_precision_are_said_so(tmp_path):
    assert choose_runtime(ExportedModel(tmp_path, DEPLOY), backend="paddle") == ("paddle", "fp32", "backend given")
    forced = choose_runtime(ExportedModel(tmp_path, {k: v for k, v in DEPLOY.items() if not k.startswith("onnx")}),
                            precision="fp32")
    assert forced.backend == "paddle" and forced.reason.startswith("precision given")


def test_a_label_of_another_size_than_its_image_names_both(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((20, 30, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "a_label.png"), np.zeros((10, 30), np.uint8))
    with pytest.raises(UserError, match=r"a_label.png: a label of 30x10 for an image of 30x20 \(.*a.png\)"):
        tuning_samples([(str(tmp_path / "a.png"), str(tmp_path / "a_label.png"))], ExportedModel(tmp_path, DEPLOY))


def test_tune_writes_the_choice_and_infer_runs_it(onnx_extra, exported, toy_model, tmp_path, capsys):
    model_dir = tmp_path / "model"
    shutil.copytree(exported, model_dir)
    assert main(["tune", "--model_dir", str(model_dir), "--tune_labels", str(toy_model.root / "val.txt"),
                 "--tune_num", "4", "--tune_repeats", "2", "--cpu_threads", "1"]) == 0
    assert "Wrote" in capsys.readouterr().out
    [entry] = json.loads((model_dir / TUNING_FILE).read_text())["entries"]
    assert entry["key"] == tuning_key("cpu", 1, entry["key"]["input_shape"]) and entry["images"] == 4
    rows = {(row["backend"], row["precision"]): row for row in entry["rows"]}
    assert {("paddle", "fp32"), ("onnxruntime", "fp32"), ("onnxruntime", "int8")} <= set(rows)
    assert rows[("paddle", "fp32")]["agreement"] == 1.0 and 0 < rows[("paddle", "fp32")]["miou"] <= 1
    assert rows[("onnxruntime", "fp32")]["agreement"] >= 0.9999
    chosen = rows[(entry["choice"]["backend"], entry["choice"]["precision"])]
    assert chosen["eligible"]
    assert chosen["median_ms"] == min(row["median_ms"] for row in rows.values() if row["eligible"])

    image_dir = str(toy_model.root / "leftImg8bit" / "val")
    assert main(["infer", "--model_dir", str(model_dir), "--image_path", image_dir,
                 "--save_dir", str(tmp_path / "out"), "--cpu_threads", "1"]) == 0
    output = capsys.readouterr().out
    assert output.splitlines()[0].startswith(
        f"Backend: {chosen['backend']} (cpu, {chosen['precision']}), tuned on this machine")
    assert SPEED_LINE.search(output).group(1) == "20"

    assert main(["infer", "--model_dir", str(model_dir), "--image_path", image_dir,
                 "--save_dir", str(tmp_path / "out2"), "--cpu_threads", "2"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "CPU capability" in first and "tuning.json is stale here: threads 1 there, 2 here" in first


@pytest.mark.slow
def test_export_tune_tunes_on_the_config_val_set_and_infer_uses_it(onnx_extra, toy_model, tmp_path, capsys):
    model_dir = tmp_path / "tuned"
    assert main(["export", "--config", toy_model.config, "--model_path", toy_model.checkpoint,
                 "--save_dir", str(model_dir), "--int8", "--calib_num", "4", "--tune", "--tune_num", "4",
                 "--tune_repeats", "1"]) == 0
    output = capsys.readouterr().out
    exported_line = next(line for line in output.splitlines() if line.startswith("Exported to"))
    assert ExportedModel.read(model_dir).get("onnx_int8") in exported_line and f"Wrote {model_dir / TUNING_FILE}" in output
    [entry] = json.loads((model_dir / TUNING_FILE).read_text())["entries"]
    assert entry["labelled"] and entry["images"] == 4  # the config's val_dataset has labels
    assert {(row["backend"], row["precision"]) for row in entry["rows"]} >= {("paddle", "fp32"), ("onnxruntime", "int8")}
    assert all("miou" in row for row in entry["rows"])
    assert main(["infer", "--model_dir", str(model_dir), "--image_path",
                 str(toy_model.root / "leftImg8bit" / "val"), "--save_dir", str(tmp_path / "out")]) == 0
    chosen = entry["choice"]
    assert capsys.readouterr().out.splitlines()[0].startswith(
        f"Backend: {chosen['backend']} (cpu, {chosen['precision']}), tuned on this machine")


@pytest.mark.slow
def test_tune_on_a_configs_val_set_in_batches_applies_to_that_batch_size(onnx_extra, exported, toy_model,
                                                                         tmp_path, capsys):
    model_dir = tmp_path / "model"
    shutil.copytree(exported, model_dir)
    assert main(["tune", "--model_dir", str(model_dir), "--config", toy_model.config, "--batch_size", "2",
                 "--tune_num", "4", "--tune_repeats", "1", "--cpu_threads", "1"]) == 0
    assert "Wrote" in capsys.readouterr().out
    [entry] = json.loads((model_dir / TUNING_FILE).read_text())["entries"]
    assert entry["key"]["input_shape"] == [2, *SHAPE[1:]]
    assert entry["labelled"] and all("miou" in row for row in entry["rows"])  # the val set's labels
    infer = ["infer", "--model_dir", str(model_dir), "--image_path", str(toy_model.root / "leftImg8bit" / "val"),
             "--save_dir", str(tmp_path / "out"), "--cpu_threads", "1"]
    assert main(infer + ["--batch_size", "2"]) == 0
    assert "tuned on this machine" in capsys.readouterr().out.splitlines()[0]
    assert main(infer) == 0
    assert f"input shape [2, 3, 128, 256] there, {SHAPE} here" in capsys.readouterr().out.splitlines()[0]


def test_a_fixed_shape_export_is_not_tuned_at_another_batch_size(tmp_path):
    samples = [Sample(np.zeros(SHAPE[1:], "float32"), [], None)]
    with pytest.raises(UserError, match=re.escape(f"exported for input {SHAPE}, but tuning would run [2, 3, 128, 256]")):
        measure(ExportedModel(tmp_path, dict(DEPLOY, input_shape=SHAPE)), samples, batch_size=2)


def test_tune_without_images_names_the_flags_that_give_them(tmp_path, capsys):
    assert main(["tune", "--model_dir", str(tmp_path)]) == 1
    assert "give the images to tune on: --image_path, --tune_labels or --config" in capsys.readouterr().err
