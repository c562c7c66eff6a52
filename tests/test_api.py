"""The Python API: the README's example as written, build_model from a name, file or dict with
overrides and checked weights, and export with the dataset's classes in deploy.yaml."""
import os
import re

import cv2
import numpy as np
import paddle
import pytest
import yaml
from paddleseg.deploy.infer import DeployConfig

import paddleseg_liteseg as psl
from paddleseg_liteseg.datasets.camvid import CamVid
from paddleseg_liteseg.errors import ConfigError, UserError
from paddleseg_liteseg.shipped_configs import resolve_config

README = os.path.join(os.path.dirname(__file__), "..", "README.md")
TOY = "pp_liteseg_stdc1_toy_256x128_300"


def readme_example():
    """The Python block of the README's "Python API" section."""
    text = open(README).read()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_readme_example_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)
    assert isinstance(namespace["model"], psl.LiteSeg) and namespace["model"].num_classes == 19
    assert namespace["labels"].shape == (256, 512) and namespace["labels"].dtype == np.uint8
    assert namespace["overlay"].shape == (256, 512, 3)
    assert os.path.isfile(tmp_path / "output" / "inference_model" / "deploy.yaml")


def _parameters(model):
    return {key: value.numpy() for key, value in model.state_dict().items()}


def _built(config, seed=0, **kwargs):
    paddle.seed(seed)
    with paddle.utils.unique_name.guard():
        return psl.build_model(config, **kwargs)


def test_a_name_a_file_and_a_dict_build_the_same_model():
    by_name = _parameters(_built(TOY))
    for config in (resolve_config(TOY), {"_base_": TOY, "batch_size": 2}):
        other = _parameters(_built(config))
        assert other.keys() == by_name.keys()
        for key in by_name:
            np.testing.assert_array_equal(other[key], by_name[key], err_msg=key)


def test_num_classes_and_opts_change_the_model():
    model = _built(TOY, num_classes=3, opts={"model.backbone.type": "STDC2"})
    default = _built(TOY)
    assert model.num_classes == 3 and default.num_classes == 5
    assert len(model.backbone.parameters()) > len(default.backbone.parameters())  # STDC2 is deeper than STDC1
    assert [head.classifier.weight.shape[0] for head in model.heads] == [3, 3, 3]


def test_weights_load_through_the_checked_loader(tmp_path):
    saved = _built(TOY, seed=1)
    path = str(tmp_path / "model.pdparams")
    paddle.save(saved.state_dict(), path)
    loaded = _parameters(_built(TOY, seed=2, weights=path))
    for key, value in _parameters(saved).items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    with pytest.raises(UserError, match="does not fit this LiteSeg"):
        _built(TOY, weights=path, opts={"model.backbone.type": "STDC2"})


def test_a_misspelt_override_names_the_key():
    with pytest.raises(ConfigError, match=r"model.backbon is not in the config; did you mean 'model.backbone'"):
        psl.build_model(TOY, opts={"model.backbon.type": "STDC2"})


@pytest.mark.parametrize("given", ["config", "build_model's model"])
def test_export_writes_the_dataset_classes_for_predictor_and_paddleseg(tmp_path, monkeypatch, given):
    """CamVid's data is not here: its names and colours come from the dataset class."""
    monkeypatch.chdir(tmp_path)
    config, opts = "pp_liteseg_stdc1_camvid_960x720_10k", {"model.backbone.pretrained": None}
    source = config if given == "config" else psl.build_model(config, opts=opts)
    deploy = psl.export(source, "exported", input_shape=[1, 3, 64, 64], opts=opts)
    written = yaml.safe_load(open(tmp_path / "exported" / "deploy.yaml"))["Deploy"]
    assert written["class_names"] == list(CamVid.CLASS_NAMES) == deploy["class_names"]
    assert written["palette"] == [list(colour) for colour in CamVid.PALETTE]
    assert os.path.isfile(DeployConfig(str(tmp_path / "exported" / "deploy.yaml")).model)
    predictor = psl.Predictor("exported", backend="paddle")
    assert predictor.class_names == list(CamVid.CLASS_NAMES)
    assert predictor.color_map[:6] == [*CamVid.PALETTE[0], *CamVid.PALETTE[1]]


def test_a_dict_configs_mistakes_name_the_dict_not_a_temporary_file():
    with pytest.raises(ConfigError) as error:
        psl.build_model({"_base_": TOY, "model": {"backbone": {"type": "STDC3"}}})
    assert str(error.value).startswith("config: model.backbone.type: unknown type 'STDC3'; did you mean")
    assert "paddleseg_liteseg_config_" not in str(error.value)


def test_int8_agreement_images_come_from_the_val_set(tmp_path, capsys):
    """A model is more confident on its training images, so int8's agreement with fp32 is measured
    on the val images; without them, on the calibration images, and export says so."""
    from paddleseg_liteseg.api import agreement_set, load
    from paddleseg_liteseg.datasets.toy import make_toy_dataset
    from toy_training import toy_config

    make_toy_dataset(str(tmp_path), num_train=3, num_val=2, size=(64, 32))
    normalize = [{"type": "Normalize"}]
    images, labels, ignore_index = agreement_set(load(toy_config(tmp_path))[1], normalize, count=8)
    val = [line.split() for line in open(tmp_path / "val.txt")]
    expected = [cv2.imread(str(tmp_path / image))[:, :, ::-1].astype("float32") / 127.5 - 1 for image, _ in val]
    assert len(images) == 2
    assert all(np.allclose(image, want.transpose(2, 0, 1), atol=1e-5) for image, want in zip(images, expected))
    assert all(np.array_equal(label, cv2.imread(str(tmp_path / path), cv2.IMREAD_GRAYSCALE))
               for label, (_, path) in zip(labels, val))
    assert ignore_index == 255

    (tmp_path / "val.txt").write_text("")
    assert agreement_set(load(toy_config(tmp_path))[1], normalize) is None
    assert "val_dataset lists no images; measuring the agreement with fp32 on the calibration images" \
        in capsys.readouterr().out
