"""PaddleSeg's deploy/python/infer.py flags on ``paddleseg infer``: what each becomes, and a clear
message for those that cannot apply."""
import argparse
import os
import re

import pytest

from paddleseg_liteseg.cli import build_parser, main
from paddleseg_liteseg.cli.deploy import paddleseg_deploy_flags
from paddleseg_liteseg.errors import UserError


def _args(tmp_path, *flags, device="cpu"):
    (tmp_path / "deploy.yaml").write_text("Deploy: {model: model.json, params: model.pdiparams, transforms: []}\n")
    return build_parser().parse_args(["infer", "--image_path", "x.png", "--device", device, *flags])


def test_config_names_the_model_directory_and_mkldnn_selects_paddle(tmp_path):
    args = _args(tmp_path, "--config", str(tmp_path / "deploy.yaml"), "--enable_mkldnn", "False",
                 "--use_trt", "False", "--cpu_threads", "3", "--precision", "fp32", "--with_argmax")
    options, notes = paddleseg_deploy_flags.apply(args)
    assert args.model_dir == str(tmp_path) and args.backend == "paddle"
    assert options == {"onednn": False}
    assert notes == ["--enable_mkldnn: Paddle Inference settings, so the paddle backend runs"]


def test_tensorrt_on_cpu_is_refused(tmp_path):
    args = _args(tmp_path, "--model_dir", str(tmp_path), "--use_trt", "True")
    with pytest.raises(UserError, match="--use_trt True: TensorRT runs on NVIDIA GPUs, but this run is on cpu"):
        paddleseg_deploy_flags.apply(args)


def test_tensorrt_settings_go_to_paddle_inference_on_gpu(tmp_path):
    args = _args(tmp_path, "--model_dir", str(tmp_path), "--use_trt", "True", "--min_subgraph_size", "5",
                 device="gpu")
    assert paddleseg_deploy_flags.apply(args)[0] == {"tensorrt": True, "min_subgraph_size": 5}


@pytest.mark.parametrize("flags, message", [
    (["--min_subgraph_size", "3"], "it needs --use_trt True"),
    (["--enable_auto_tune", "True"], "--enable_auto_tune True (TensorRT shape collection) is not supported"),
    (["--auto_tuned_shape_file", "shapes.pbtxt"], "belongs to --enable_auto_tune True"),
    (["--save_log_path", "log.txt"], "add --benchmark True"),
    (["--enable_mkldnn", "True", "--backend", "onnxruntime"], "--backend is onnxruntime"),
])
def test_flags_that_cannot_apply_are_refused(tmp_path, flags, message):
    args = _args(tmp_path, "--model_dir", str(tmp_path), *flags)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        paddleseg_deploy_flags.apply(args)


def test_print_detail_on_another_backend_is_said_so(tmp_path):
    args = _args(tmp_path, "--model_dir", str(tmp_path), "--print_detail", "True", "--backend", "openvino")
    options, notes = paddleseg_deploy_flags.apply(args)
    assert options == {} and "other backends have none" in notes[0]
    args = _args(tmp_path, "--model_dir", str(tmp_path), "--print_detail", "True", "--backend", "paddle")
    assert paddleseg_deploy_flags.apply(args)[0] == {"glog": True}


def test_config_must_be_a_deploy_yaml_and_agree_with_model_dir(tmp_path):
    (tmp_path / "other.yml").write_text("")
    with pytest.raises(UserError, match="reads the deploy.yaml"):
        paddleseg_deploy_flags.apply(_args(tmp_path, "--config", str(tmp_path / "other.yml")))
    with pytest.raises(UserError, match="name different models"):
        paddleseg_deploy_flags.apply(_args(tmp_path, "--config", str(tmp_path / "deploy.yaml"),
                                           "--model_dir", str(tmp_path / "elsewhere")))
    with pytest.raises(UserError, match="give --model_dir DIR"):
        paddleseg_deploy_flags.apply(_args(tmp_path))


def test_booleans_are_paddleseg_true_or_false():
    assert paddleseg_deploy_flags.true_or_false("True") is True
    assert paddleseg_deploy_flags.true_or_false("false") is False
    with pytest.raises(ValueError):
        paddleseg_deploy_flags.true_or_false("yes")
    parser = argparse.ArgumentParser()
    paddleseg_deploy_flags.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--enable_mkldnn", "maybe"])


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
