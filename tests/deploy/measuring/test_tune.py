"""Choosing the runtime by measurement: the rules on a given table (a lossy runtime only where it is
clearly faster than exact fp32), when timing stops (on a fake clock), tuning.json written by
``paddleseg tune`` with each row's spread and read by ``paddleseg infer``, and stale entries (other
CPU, threads, shape) refused."""
import dataclasses
import importlib.util
import itertools
import json
import re
import shutil
import time

import cv2
import numpy as np
import pytest

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.deploy import ExportedModel
from paddleseg_liteseg.deploy.running import runtime_choice, runtimes
from paddleseg_liteseg.deploy.measuring import tune as tune_module
from paddleseg_liteseg.deploy.running.inference_timing import median_interval, time_until
from paddleseg_liteseg.deploy.exporting.model_files import TUNING_FILE
from paddleseg_liteseg.deploy.running.runtime_choice import choose_runtime
from paddleseg_liteseg.deploy.measuring.tune import (MIN_LOSSY_GAIN, Sample, choose, format_entry, lossy_verdict, measure, pick, time_rows, tune, tuning_samples)
from paddleseg_liteseg.deploy.running.runtime_id import RuntimeId
from paddleseg_liteseg.deploy.running.tuning_entry import TunedRow, TuningEntry
from paddleseg_liteseg.deploy.running.tuning_file import tuning_key
from paddleseg_liteseg.errors import UserError

SPEED_LINE = re.compile(r"^Speed: (\d+) images, model \d+\.\d ms/image \(median\), \d+\.\d images/s end to end$",
                        re.MULTILINE)
SHAPE = [1, 3, 128, 256]
DEPLOY = {"model": "model.json", "params": "model.pdiparams", "transforms": [{"type": "Normalize"}],
          "onnx": "model.onnx", "onnx_int8": "model_int8.onnx"}


def _row(backend, precision, ms, agreement, miou=None, interval=None):
    """A measured row; ``interval`` (low, high) the median's, else the median alone."""
    return TunedRow(backend, precision, agreement, miou=miou, median_ms=ms,
                    median_interval_ms=list(interval) if interval is not None else None)


def test_the_fastest_runtime_within_the_limits_is_chosen():
    rows = [_row("paddle", "fp32", 50, 1.0), _row("onnxruntime", "fp32", 20, 1.0),
            _row("openvino", "int8", 8, 0.97), _row("openvino", "bf16", 10, 0.995)]
    assert (pick(rows).backend, pick(rows).precision) == ("openvino", "bf16")
    assert [row.eligible for row in rows] == [True, True, False, True]
    assert rows[2].why_not == "agreement 0.97 < 0.99"
    assert pick(rows, min_agreement=0.999).backend == "onnxruntime"


def test_a_runtime_losing_mIoU_is_not_chosen_however_it_agrees():
    rows = [_row("paddle", "fp32", 50, 1.0, miou=0.60), _row("openvino", "int8", 8, 0.991, miou=0.590),
            _row("openvino", "bf16", 10, 0.995, miou=0.598)]
    assert pick(rows).precision == "bf16"
    assert "more than 0.005 below fp32's 0.6" in rows[1].why_not
    rows[2].miou = 0.5
    assert (pick(rows).backend, pick(rows).precision) == ("paddle", "fp32")


def test_a_lossy_runtime_5_percent_faster_is_not_chosen_however_tight_its_spread():
    rows = [_row("paddle", "fp32", 100, 1.0, interval=(99.9, 100.1)),
            _row("onnxruntime", "int8", 95, 0.995, interval=(94.9, 95.1))]
    choice, why = choose(rows)
    assert (choice.backend, choice.precision) == ("paddle", "fp32")
    assert why == ("paddle fp32, exact, is kept: onnxruntime int8 is 1.05x as fast, "
                   f"under the {MIN_LOSSY_GAIN:.0%} a lossy path must gain")
    assert lossy_verdict(rows[1], rows[0]) == "not faster"


def test_a_lossy_runtime_20_percent_faster_with_a_tight_spread_is_chosen():
    rows = [_row("paddle", "fp32", 100, 1.0, interval=(98, 102)),
            _row("onnxruntime", "int8", 80, 0.995, interval=(79, 82))]
    choice, why = choose(rows)
    assert (choice.backend, choice.precision) == ("onnxruntime", "int8")
    assert why.startswith("onnxruntime int8 is 1.25x as fast as paddle fp32, the fastest exact runtime: "
                          "beyond its noise")


def test_a_lossy_runtime_20_percent_faster_within_the_noise_is_not_chosen():
    rows = [_row("paddle", "fp32", 100, 1.0, interval=(85, 130)),
            _row("onnxruntime", "int8", 80, 0.995, interval=(70, 95))]
    choice, why = choose(rows)
    assert (choice.backend, choice.precision) == ("paddle", "fp32")
    assert "within its noise (the 95% intervals of the medians overlap)" in why
    assert "under the" not in why
    assert lossy_verdict(rows[1], rows[0]) == "undecided"


def test_exact_fp32_runtimes_compete_on_their_medians_alone():
    rows = [_row("paddle", "fp32", 50, 1.0, interval=(40, 60)), _row("onnxruntime", "fp32", 48, 0.9999,
                                                                    interval=(30, 70))]
    choice, why = choose(rows)
    assert (choice.backend, choice.precision) == ("onnxruntime", "fp32")
    assert why == "onnxruntime fp32 is the fastest exact runtime; no lossy runtime is within the limits"


def test_the_fastest_exact_runtime_is_what_a_lossy_one_must_beat():
    rows = [_row("paddle", "fp32", 100, 1.0, interval=(99, 101)), _row("openvino", "fp32", 85, 1.0, interval=(84, 86)),
            _row("openvino", "int8", 80, 0.995, interval=(79, 81))]
    choice, why = choose(rows)
    assert (choice.backend, choice.precision) == ("openvino", "fp32")
    assert why.startswith("openvino fp32, exact, is kept: openvino int8 is 1.06x as fast")


def test_an_fp32_runtime_that_agrees_less_is_lossy():
    rows = [_row("paddle", "fp32", 100, 1.0, interval=(99, 101)),
            _row("openvino", "fp32", 97, 0.995, interval=(96, 98))]
    assert pick(rows).backend == "paddle"


def test_median_interval_is_the_order_statistics_that_cover_the_median_95_percent_of_the_time():
    assert median_interval(range(10)) == (1, 8)  # P(Binomial(10, 1/2) <= 1) = 11/1024 <= 2.5%
    assert median_interval([3, 1, 2, 5, 4]) == (1, 5)  # too few runs for 95%: the whole range
    assert median_interval(range(100)) == (39, 60)


class FakeClock:
    """A clock that only runners move: each call of a runner takes its next duration (ms)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def runner(self, durations_ms):
        durations = iter(durations_ms)

        def run():
            self.now += next(durations) / 1000
        return run


def _candidates():
    return [dataclasses.replace(_row("paddle", "fp32", None, 1.0), eligible=True),
            dataclasses.replace(_row("onnxruntime", "int8", None, 0.995), eligible=True)]


def test_timing_goes_on_until_a_lossy_runtime_is_clearly_faster():
    clock = FakeClock()
    rows = _candidates()
    # int8 slow in its first 4 rounds: its median's interval leaves them out only from 17 runs on
    time_rows(rows, [clock.runner(iter(lambda: 10, None)), clock.runner([11] * 4 + [8] * 200)],
              repeats=10, max_rounds=100, max_seconds=60, settle=0, clock=clock)
    assert [row.runs for row in rows] == [17, 17]
    assert rows[1].median_interval_ms == [8, 8] and (rows[1].min_ms, rows[1].max_ms) == (8, 11)
    assert pick(rows).precision == "int8"


def test_timing_stops_at_the_minimum_once_a_lossy_runtime_is_clearly_not_worth_it():
    clock = FakeClock()
    rows = _candidates()
    time_rows(rows, [clock.runner(iter(lambda: 10, None)), clock.runner(iter(lambda: 9.5, None))],
              repeats=10, max_rounds=100, max_seconds=60, settle=0, clock=clock)
    assert [row.runs for row in rows] == [10, 10]
    assert pick(rows).precision == "fp32"


@pytest.mark.parametrize("max_rounds, max_seconds, runs", [(30, 60, 30), (100, 0.5, 26)])
def test_timing_without_a_verdict_stops_at_a_limit_and_keeps_fp32(max_rounds, max_seconds, runs):
    clock = FakeClock()
    rows = _candidates()
    noisy = itertools.cycle([8, 11])  # int8: its median's interval always spans 8 .. 11
    time_rows(rows, [clock.runner(iter(lambda: 10, None)), clock.runner(noisy)],
              repeats=10, max_rounds=max_rounds, max_seconds=max_seconds, settle=0,
              clock=clock)
    assert [row.runs for row in rows] == [runs, runs]  # a round of 10 + 9.5 ms a time: 26 past 0.5 s
    choice, why = choose(rows)
    assert choice.precision == "fp32"
    assert "within its noise" in why and why.endswith(f"(undecided when timing stopped after {runs} rounds)")


def test_timing_runs_its_minimum_rounds_even_when_settled_at_once():
    calls = []
    times = time_until({"a": lambda: calls.append("a")}, lambda times: True, min_rounds=3, max_rounds=10,
                       max_seconds=60, warmup=1)
    assert calls == ["a"] * 4 and len(times["a"]) == 3


def test_in_its_turn_a_runtime_runs_untimed_for_the_settling_time_first():
    clock = FakeClock()
    # a: 3 untimed calls of 40 ms fill the 0.1 s, then one timed; b: a single call of 150 ms does
    times = time_until({"a": clock.runner(itertools.cycle([40, 40, 40, 10])),
                        "b": clock.runner(itertools.cycle([150, 20]))},
                       lambda times: False, min_rounds=3, max_rounds=3, max_seconds=60, warmup=0, settle=0.1,
                       clock=clock)
    assert [round(1000 * value) for value in times["a"]] == [10] * 3
    assert [round(1000 * value) for value in times["b"]] == [20] * 3


def test_each_timed_call_follows_the_hosts_pause_after_settling(monkeypatch):
    """infer calls a runtime between images: tune waits as long as that work before each timed call."""
    events = []
    monkeypatch.setattr(time, "sleep", lambda seconds: events.append(("pause", seconds)))
    time_until({"a": lambda: events.append("a")}, lambda times: False, min_rounds=2, max_rounds=2,
               max_seconds=60, warmup=0, settle=1e-9, pause=0.02)
    assert events == ["a", ("pause", 0.02), "a"] * 2


def test_the_pause_is_the_hosts_measured_work_on_an_image(tmp_path, fake_runtimes, monkeypatch):
    pauses = []
    real_time_until = tune_module.time_until
    monkeypatch.setattr(tune_module, "time_until",
                        lambda *args, pause, **kwargs: pauses.append(pause) or real_time_until(*args, **kwargs))
    samples = [Sample(np.zeros((3, 8, 16), "float32"), [], None, host_seconds) for host_seconds in (0.01, 0.03, 0.02)]
    measure(ExportedModel(tmp_path, DEPLOY), samples, repeats=1, warmup=0, max_rounds=1)
    assert 0.02 <= pauses[0] < 0.03  # the median host time, plus mapping labels back (no resize here)


class FakeBackend:
    def __init__(self, precisions):
        self.precisions = precisions

    def unavailable(self, model, device, precision):
        return None if precision in self.precisions else f"no {precision} here"


@pytest.fixture
def fake_runtimes(monkeypatch):
    """Paddle fp32, onnxruntime fp32 and int8 as runtimes that label every pixel 0."""
    monkeypatch.setattr(tune_module, "BACKENDS", {"paddle": FakeBackend(["fp32"]),
                                                  "onnxruntime": FakeBackend(["fp32", "int8"])})
    monkeypatch.setattr(tune_module, "create_runtime", lambda model, backend, device, precision, threads:
                        lambda batch: np.zeros((len(batch), *batch.shape[2:]), "int64"))


def test_tuning_json_records_each_rows_spread_and_why_it_chose(tmp_path, fake_runtimes):
    samples = [Sample(np.zeros((3, 8, 16), "float32"), [], None)] * 2
    entry = tune(ExportedModel(tmp_path, DEPLOY), samples, threads=1, repeats=3, max_rounds=5, max_seconds=1)
    [written] = json.loads((tmp_path / TUNING_FILE).read_text())["entries"]
    assert written == entry.to_dict() and entry.why and entry.min_lossy_gain == MIN_LOSSY_GAIN
    assert entry.key["input_shape"] == [1, 3, 8, 16] and 3 <= entry.rounds["timed"] <= 5
    assert {(row.backend, row.precision) for row in entry.rows} == {
        ("paddle", "fp32"), ("onnxruntime", "fp32"), ("onnxruntime", "int8")}
    for row in entry.rows:
        low, high = row.median_interval_ms
        assert row.min_ms <= low <= row.median_ms <= high <= row.max_ms and row.runs == entry.rounds["timed"]
    table = format_entry(entry)
    assert "| min / median / max ms | median's 95% interval |" in table
    assert table.splitlines()[-1] == f"Chosen: {entry.choice.backend} {entry.choice.precision}: {entry.why}"
    assert "skipped paddle int8: no int8 here" in table


def test_an_entry_an_older_tune_wrote_formats_with_what_it_has():
    row = dataclasses.replace(_row("paddle", "fp32", 20.5, 1.0), eligible=True)
    entry = TuningEntry(key=tuning_key("cpu", 1, SHAPE), choice=RuntimeId("paddle", "fp32"), date="2026-01-01",
                        rows=[row], skipped={}, images=4)
    table = format_entry(entry).splitlines()
    assert table[0].endswith(", 4 images, ? rounds")
    assert table[-2:] == ["| paddle | fp32 | - / 20.5 / - | 20.5 .. 20.5 | 1.0 | - | yes |", "Chosen: paddle fp32"]


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
                 "--tune_num", "4", "--tune_repeats", "2", "--tune_seconds", "5", "--cpu_threads", "1"]) == 0
    output = capsys.readouterr().out
    assert "Wrote" in output and "| min / median / max ms |" in output
    [entry] = json.loads((model_dir / TUNING_FILE).read_text())["entries"]
    assert entry["key"] == tuning_key("cpu", 1, entry["key"]["input_shape"]) and entry["images"] == 4
    rows = {(row["backend"], row["precision"]): row for row in entry["rows"]}
    assert {("paddle", "fp32"), ("onnxruntime", "fp32"), ("onnxruntime", "int8")} <= set(rows)
    assert rows[("paddle", "fp32")]["agreement"] == 1.0 and 0 < rows[("paddle", "fp32")]["miou"] <= 1
    assert rows[("onnxruntime", "fp32")]["agreement"] >= 0.9999
    chosen = rows[(entry["choice"]["backend"], entry["choice"]["precision"])]
    assert chosen["eligible"] and entry["why"] in output
    if chosen["precision"] == "fp32":
        assert chosen["median_ms"] == min(row["median_ms"] for row in rows.values()
                                          if row["eligible"] and row["precision"] == "fp32")
    assert all(row["min_ms"] <= row["median_ms"] <= row["max_ms"] and row["runs"] >= 2 for row in rows.values())

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


def test_a_fixed_batch_export_is_tuned_in_batches_of_its_size(tmp_path, fake_runtimes):
    samples = [Sample(np.zeros(SHAPE[1:], "float32"), [], None)]
    fixed = [2, *SHAPE[1:]]
    _, _, input_shape = measure(ExportedModel(tmp_path, dict(DEPLOY, input_shape=fixed)), samples, threads=1,
                                repeats=1, warmup=0, batch_size=1, max_rounds=1)
    assert list(input_shape) == fixed


def test_tune_without_images_names_the_flags_that_give_them(tmp_path, capsys):
    assert main(["tune", "--model_dir", str(tmp_path)]) == 1
    assert "give the images to tune on: --image_path, --tune_labels or --config" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["tune", "export"])
def test_the_tuning_time_flags_are_documented(command, capsys):
    with pytest.raises(SystemExit) as exit_code:
        main([command, "--help"])
    assert exit_code.value.code == 0
    output = capsys.readouterr().out
    assert all(flag in output for flag in ("--tune_repeats", "--tune_max_repeats", "--tune_seconds"))
