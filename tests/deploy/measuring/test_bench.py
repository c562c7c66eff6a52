"""``paddleseg bench``: a table and a JSON with the fields, agreement with fp32 on dataset images, skipped
rows only for missing backends; timing values are never asserted, beyond the GEMM rate's order of
magnitude against a multiply timed here."""
import dataclasses
import importlib.util
import json

import numpy as np
import pytest

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.deploy.running import runtimes
from paddleseg_liteseg.deploy.measuring.bench import BenchResult, BenchRow, benchmark, format_table, write_json
from paddleseg_liteseg.deploy.running.inference_timing import seconds, time_interleaved
from paddleseg_liteseg.deploy.running.runtime_id import RuntimeId
from paddleseg_liteseg.deploy.measuring.gemm_rates import gemm_gflops, runtime_gemm_rates

ROW_FIELDS = {"model", "runtime", "input_shape", "median_ms", "p90_ms", "fps", "gflops_per_s",
              "fraction_of_gemm", "runs", "vs_reference", "agreement"}
OWN_GEMM_FIELDS = {"own_gemm_gflops", "fraction_of_own_gemm"}  # rows of a backend at a precision


@pytest.mark.slow
def test_bench_prints_a_table_and_writes_json(toy_model, tmp_path, capsys):
    target = tmp_path / "bench.json"
    assert main(["bench", "--config", toy_model.config, "--model_path", toy_model.checkpoint,
                 "--input_shape", "1", "3", "128", "256", "--backend", "dygraph", "paddle", "onnxruntime",
                 "--reference", "--repeats", "2", "--warmup", "1", "--cpu_threads", "1", "--agreement_num", "4",
                 "--save_json", str(target)]) == 0
    output = capsys.readouterr().out
    assert "| model | runtime | median ms |" in output and "GEMM" in output
    result = json.loads(target.read_text())
    assert result["machine"]["gemm_gflops"] > 0 and result["machine"]["threads"] == 1
    assert set(result["models"]) == {"plugin", "reference"}
    assert result["models"]["plugin"]["params"] == result["models"]["reference"]["params"]
    runtimes = {row["runtime"] for row in result["rows"]}
    assert {"dygraph fp32", "paddle fp32", "paddle fp32 oneDNN off"} <= runtimes
    for row in result["rows"]:
        own_gemm = row["runtime"].split()[0] != "dygraph" and "off" not in row["runtime"]
        assert set(row) == ROW_FIELDS | (OWN_GEMM_FIELDS if own_gemm else set()) and row["runs"] == 2
        if own_gemm:
            assert row["fraction_of_own_gemm"] == pytest.approx(row["gflops_per_s"] / row["own_gemm_gflops"], rel=0.05)
        if "bf16" not in row["runtime"]:
            assert row["agreement"] >= 0.999, row
    assert "onnxruntime bf16" in result["skipped"]


def test_a_broken_backend_fails_the_benchmark(trained_model, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("this backend is broken")
    monkeypatch.setattr(runtimes.PaddleRuntime, "__init__", broken)
    with pytest.raises(RuntimeError, match="this backend is broken"):
        benchmark(trained_model, (1, 3, 64, 128), runtimes=("paddle",), threads=1, repeats=1, warmup=0)


@pytest.mark.slow
def test_a_missing_backend_is_a_skipped_row(onnx_extra, trained_model, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "openvino" else real_find_spec(name, *args))
    result = benchmark(trained_model, (1, 3, 64, 128), runtimes=("dygraph", "openvino"), threads=1,
                       repeats=1, warmup=0)
    assert [str(row.runtime) for row in result.rows] == ["dygraph fp32"]
    assert "pip install 'paddleseg-liteseg[openvino]'" in result.skipped["openvino fp32"]


def test_rounds_rotate_the_order():
    calls = []
    times = time_interleaved({name: (lambda name=name: calls.append(name)) for name in "abc"},
                             repeats=3, warmup=0)
    assert calls == list("abcbcacab") and all(len(values) == 3 for values in times.values())


def test_gemm_rate_is_the_flops_of_a_multiply_over_its_time():
    """The child's rate against 2 n^3 FLOPs over a multiply timed here: the same order of magnitude
    (a wrong FLOP count, unit or timing is off by a factor of n or 1000), whatever the machine's load."""
    size = 256
    a, b = (np.random.default_rng(seed).standard_normal((size, size), dtype=np.float32) for seed in (0, 1))
    np.matmul(a, b)
    best = min(seconds(np.matmul, a, b) for _ in range(5))
    here = 2 * size ** 3 / best / 1e9
    rate = gemm_gflops(threads=1, size=size, repeats=5)
    assert np.isfinite(rate) and here / 30 < rate < here * 30, (rate, here)


def test_each_backend_precision_has_its_own_gemm_rate(onnx_extra, tmp_path):
    ids = [RuntimeId("dygraph", "fp32"), RuntimeId("paddle", "fp32"), RuntimeId("paddle", "fp32", "oneDNN off"),
           RuntimeId("onnxruntime", "fp32"), RuntimeId("onnxruntime", "int8")]
    rates = runtime_gemm_rates(ids, threads=1, size=128, repeats=1, work_dir=str(tmp_path))
    assert set(rates) == {RuntimeId("paddle", "fp32"), RuntimeId("onnxruntime", "fp32"), RuntimeId("onnxruntime", "int8")}
    assert all(np.isfinite(rate) and rate > 0 for rate in rates.values())


def test_a_row_writes_the_fields_measured_and_the_table_a_column_for_each(tmp_path):
    plain = BenchRow("plugin", RuntimeId("paddle", "fp32", "oneDNN off"), [1, 3, 64, 128], median_ms=10.0, p90_ms=11.0,
                     fps=100.0, gflops_per_s=5.0, fraction_of_gemm=0.1, runs=3)
    measured = dataclasses.replace(plain, runtime=RuntimeId("paddle", "fp32"), own_gemm_gflops=40.0,
                                   fraction_of_own_gemm=0.125, agreement=1.0, vs_reference=0.9)
    assert plain.to_dict() == {"model": "plugin", "runtime": "paddle fp32 oneDNN off", "input_shape": [1, 3, 64, 128],
                               "median_ms": 10.0, "p90_ms": 11.0, "fps": 100.0, "gflops_per_s": 5.0,
                               "fraction_of_gemm": 0.1, "runs": 3}
    assert list(measured.to_dict()) == list(plain.to_dict()) + ["own_gemm_gflops", "fraction_of_own_gemm", "agreement",
                                                                 "vs_reference"]
    result = BenchResult({"device": "cpu", "threads": 1, "gemm_gflops": 50.0},
                         {"plugin": {"params": 10 ** 6, "gflops": 0.05}}, [plain, measured],
                         {"openvino fp32": "not installed"})
    table = format_table(result).splitlines()
    assert table[3].endswith("| of its GEMM | agreement with fp32 | vs reference |")
    assert table[5:] == ["| plugin | paddle fp32 oneDNN off | 10.0 | 11.0 | 100.0 | 5.0 | 0.1 | - | - | - | - |",
                         "| plugin | paddle fp32 | 10.0 | 11.0 | 100.0 | 5.0 | 0.1 | 40.0 | 0.125 | 1.0 | 0.9 |",
                         "skipped openvino fp32: not installed"]
    write_json(result, str(tmp_path / "bench.json"))
    assert json.loads((tmp_path / "bench.json").read_text()) == result.to_dict()
