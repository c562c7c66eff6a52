"""tuning.json's entries through ``TuningEntry``: an entry written and read back is the same, and an
entry an older ``tune`` wrote (no spread, no why) still reads, chooses and is kept as it was."""
import json

from paddleseg_liteseg.deploy.exporting.model_files import TUNING_FILE
from paddleseg_liteseg.deploy.running.runtime_id import RuntimeId
from paddleseg_liteseg.deploy.running.tuning_entry import TunedRow, TuningEntry
from paddleseg_liteseg.deploy.running.tuning_file import read_entries, tuned_choice, write_entry

KEY = {"device": "cpu", "cpu": "A CPU", "flags": ["avx2"], "threads": 2, "input_shape": [1, 3, 64, 128]}
OLDER_ENTRY = {  # as tune wrote it before rows had their spread and the entry its why
    "key": KEY, "choice": {"backend": "onnxruntime", "precision": "int8"}, "min_agreement": 0.99,
    "max_miou_drop": 0.005, "images": 4, "labelled": False, "date": "2026-01-01T00:00:00+00:00",
    "rows": [{"backend": "paddle", "precision": "fp32", "median_ms": 20.5, "agreement": 1.0, "eligible": True,
              "why_not": None},
             {"backend": "onnxruntime", "precision": "int8", "median_ms": 9.1, "agreement": 0.995, "eligible": True,
              "why_not": None}],
    "skipped": {"openvino fp32": "not installed"}}


def test_an_older_entry_reads_chooses_and_writes_back_unchanged(tmp_path):
    (tmp_path / TUNING_FILE).write_text(json.dumps({"entries": [OLDER_ENTRY]}))
    [entry] = read_entries(tmp_path)
    assert entry.choice == RuntimeId("onnxruntime", "int8") and entry.why is None and entry.rounds is None
    assert entry.rows[1] == TunedRow("onnxruntime", "int8", 0.995, eligible=True, median_ms=9.1)
    assert tuned_choice(tmp_path, KEY)[0] == RuntimeId("onnxruntime", "int8")
    assert entry.to_dict() == OLDER_ENTRY


def test_an_entry_round_trips_and_replaces_only_its_own_key(tmp_path):
    (tmp_path / TUNING_FILE).write_text(json.dumps({"entries": [OLDER_ENTRY]}))
    row = TunedRow("openvino", "bf16", 0.998, miou=0.61, eligible=False, why_not="too slow", min_ms=4.0,
                   median_ms=4.5, max_ms=6.0, median_interval_ms=[4.2, 4.8], runs=12)
    entry = TuningEntry(key=dict(KEY, threads=4), choice=RuntimeId("paddle", "fp32"), date="2026-02-01",
                        rows=[row], skipped={}, why="the only exact runtime", min_agreement=0.99,
                        max_miou_drop=0.005, min_lossy_gain=0.1, images=8, labelled=True,
                        rounds={"min": 10, "max": 100, "max_seconds": 60, "timed": 12})
    assert TuningEntry.from_dict(json.loads(json.dumps(entry.to_dict()))) == entry
    write_entry(tmp_path, entry)
    write_entry(tmp_path, entry)
    assert read_entries(tmp_path) == [TuningEntry.from_dict(OLDER_ENTRY), entry]
    assert json.loads((tmp_path / TUNING_FILE).read_text())["entries"][0] == OLDER_ENTRY
