"""A PaddleSeg deploy/python/infer.py command line (as TIPC writes them) runs unchanged on ``paddleseg infer``."""
import os
import re

from paddleseg_liteseg.cli import main


def test_a_tipc_line_runs_and_prints_the_benchmark_summary(exported, toy_model, tmp_path, capsys):
    log = tmp_path / "logs" / "infer.log"
    assert main(["infer", "--config", os.path.join(exported, "deploy.yaml"), "--device", "cpu",
                 "--enable_mkldnn", "True", "--cpu_threads", "1", "--batch_size", "1", "--use_trt", "False",
                 "--precision", "fp32", "--image_path", str(toy_model.root / "leftImg8bit" / "val"),
                 "--save_dir", str(tmp_path / "out"), "--benchmark", "True", "--model_name", "pp_liteseg_toy",
                 "--save_log_path", str(log), "--with_argmax", "--print_detail", "False"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Backend: paddle (cpu, fp32), backend given"
    assert "the paddle backend runs" in lines[1]
    assert re.fullmatch(r"Speed: 20 images, model \d+\.\d ms/image \(median\), \d+\.\d images/s end to end",
                        lines[-1])
    summary = log.read_text()
    assert summary.startswith("Benchmark: pp_liteseg_toy") and "cpu_threads: 1" in summary
    assert "images: 20, model runs: 20" in summary
    assert len(list((tmp_path / "out" / "pseudo_color_prediction").rglob("*.png"))) == 20
