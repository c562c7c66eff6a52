"""``paddleseg export``: Paddle inference files and deploy.yaml that exist and load, dynamic ONNX,
official checkpoints, and nothing installed on the way."""
import os
import subprocess
import sys

import numpy as np
import pytest
import paddle
from paddleseg.deploy.infer import DeployConfig

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.deploy import ExportedModel, create_runtime
from paddleseg_liteseg.deploy.exporting.export import write_inference_model as export
from paddleseg_liteseg.deploy.exporting.onnx_conversion import convert_in_process

from reference_models import build_plugin


def test_deploy_yaml_names_files_that_exist_and_paddleseg_reads_it(exported):
    config = DeployConfig(os.path.join(exported, "deploy.yaml"))
    assert os.path.isfile(config.model) and os.path.isfile(config.params)
    assert [type(t).__name__ for t in config.transforms.transforms] == ["Normalize"]
    deploy = ExportedModel.read(exported).deploy
    assert deploy["input_shape"] == [None, 3, None, None]
    assert (deploy["output_op"], deploy["output_dtype"]) == ("argmax", "int32")
    for key in ("onnx", "onnx_int8"):
        assert key not in deploy or os.path.isfile(os.path.join(exported, deploy[key]))


def test_onnx_batch_height_and_width_are_dynamic(onnx_extra, exported):
    import onnx

    graph = onnx.load(os.path.join(exported, "model.onnx")).graph
    dims = [[dim.dim_param or dim.dim_value for dim in value.type.tensor_type.shape.dim]
            for value in (graph.input[0], graph.output[0])]
    assert dims == [["batch", 3, "height", "width"], ["batch", "height", "width"]]


@pytest.mark.slow
def test_fixed_shape_export_has_the_same_outputs(onnx_extra, trained_model, exported, tmp_path, helpers,
                                                 val_images):
    """The dynamic ONNX model equals one exported at a fixed 1x3xHxW."""
    height, width = val_images[0].shape[:2]
    fixed = export(trained_model, str(tmp_path), [{"type": "Normalize"}],
                   input_shape=[1, 3, height, width], onnx=True)
    batch = helpers.normalize(val_images[:1])
    dynamic_run = create_runtime(ExportedModel.read(exported), "onnxruntime")
    fixed_run = create_runtime(fixed, "onnxruntime")
    np.testing.assert_array_equal(dynamic_run(batch), fixed_run(batch))


@pytest.mark.slow
def test_official_checkpoint_exports_the_same_model(onnx_extra, official_t_checkpoint, toy_model, tmp_path, helpers):
    """An official-layout checkpoint through the plugin's config: outputs equal PaddleSeg's model."""
    path, official = official_t_checkpoint
    config = helpers.toy_config(toy_model.root, num_classes=19)
    config_path = helpers.write_config(tmp_path / "t19.yml", config)
    save_dir = tmp_path / "exported"
    assert main(["export", "--config", config_path, "--model_path", path, "--save_dir", str(save_dir),
                 "--output_op", "none", "--onnx"]) == 0
    official.eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 96)).astype("float32")
    with paddle.no_grad():
        expected = official(paddle.to_tensor(x))[0].numpy()
    deploy = ExportedModel.read(str(save_dir))
    for backend in ("paddle", "onnxruntime"):
        np.testing.assert_allclose(create_runtime(deploy, backend)(x), expected,
                                   atol=2e-4, err_msg=backend)


@pytest.mark.slow
def test_paddleseg_pp_liteseg_needs_a_fixed_shape_for_onnx_and_says_so(onnx_extra, toy_model, tmp_path, helpers, capsys):
    """PaddleSeg's own PPLiteSeg pools adaptively: dynamic ONNX fails with a clear message (paddle2onnx
    would abort the process), a fixed --input_shape works."""
    config = helpers.toy_config(toy_model.root)
    config["model"] = {"_inherited_": False, "type": "PPLiteSeg", "num_classes": 5, "backbone": {"type": "STDC1"},
                       "arm_out_chs": [32, 64, 128], "seg_head_inter_chs": [32, 64, 64]}
    config_path = helpers.write_config(tmp_path / "ppliteseg.yml", config)
    assert main(["export", "--config", config_path, "--save_dir", str(tmp_path / "dynamic"), "--onnx"]) == 1
    message = capsys.readouterr().err
    assert "Adaptive only support static input shape" in message and "--input_shape" in message
    assert main(["export", "--config", config_path, "--save_dir", str(tmp_path / "fixed"), "--onnx",
                 "--input_shape", "1", "3", "64", "128"]) == 0
    assert os.path.isfile(tmp_path / "fixed" / "model.onnx")


def _pip_freeze():
    return subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.slow
def test_onnx_export_installs_nothing(onnx_extra, tmp_path):
    """paddle2onnx's default optimizer pip-installs numpy 2 at run time; this export path must not."""
    before = _pip_freeze()
    model = build_plugin("T", num_classes=2)
    export(model, str(tmp_path / "child"), [{"type": "Normalize"}], onnx=True)  # child process
    program = os.path.join(tmp_path, "child", "model.json")
    if not os.path.isfile(program):
        program = os.path.join(tmp_path, "child", "model.pdmodel")
    env_before = dict(os.environ)
    convert_in_process(program, os.path.join(tmp_path, "child", "model.pdiparams"),
                       str(tmp_path / "in_process.onnx"))
    assert "POLYGRAPHY_AUTOINSTALL_DEPS" not in os.environ
    assert dict(os.environ) == env_before
    assert "polygraphy" not in sys.modules
    assert _pip_freeze() == before
