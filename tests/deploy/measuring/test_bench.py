"""``paddleseg bench``: a table and a JSON with the fields, agreement with fp32 on dataset images, skipped
rows only for missing backends; timing values are never asserted."""
import importlib.util
import json

import numpy as np
import pytest

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.deploy.running import runtimes
from paddleseg_liteseg.deploy.measuring.bench import benchmark
from paddleseg_liteseg.deploy.running.inference_timing import time_interleaved
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
    assert [row["runtime"] for row in result["rows"]] == ["dygraph fp32"]
    assert "pip install 'paddleseg-liteseg[openvino]'" in result["skipped"]["openvino fp32"]


def test_rounds_rotate_the_order():
    calls = []
    times = time_interleaved({name: (lambda name=name: calls.append(name)) for name in "abc"},
                             repeats=3, warmup=0)
    assert calls == list("abcbcacab") and all(len(values) == 3 for values in times.values())


def test_gemm_rate_is_measured():
    assert np.isfinite(gemm_gflops(threads=1, size=256, repeats=1))


def test_each_backend_precision_has_its_own_gemm_rate(onnx_extra, tmp_path):
    ids = [RuntimeId("dygraph", "fp32"), RuntimeId("paddle", "fp32"), RuntimeId("paddle", "fp32", "oneDNN off"),
           RuntimeId("onnxruntime", "fp32"), RuntimeId("onnxruntime", "int8")]
    rates = runtime_gemm_rates(ids, threads=1, size=128, repeats=1, work_dir=str(tmp_path))
    assert set(rates) == {RuntimeId("paddle", "fp32"), RuntimeId("onnxruntime", "fp32"), RuntimeId("onnxruntime", "int8")}
    assert all(np.isfinite(rate) and rate > 0 for rate in rates.values())
