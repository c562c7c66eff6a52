"""``--model_path`` replaces every tensor, so an offline machine needs no ``pretrained`` download."""
import socket

import paddle
import pytest

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from reference_models import build_plugin
from toy_training import toy_config, write_config


@pytest.fixture
def offline_config(tmp_path, monkeypatch):
    """A toy config whose model and backbone ``pretrained`` point at a port nothing listens on."""
    monkeypatch.setenv("PADDLESEG_LITESEG_CACHE", str(tmp_path / "cache"))
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{probe.getsockname()[1]}/PP_STDCNet1.tar.gz"
    probe.close()
    make_toy_dataset(str(tmp_path / "toy"), num_train=2, num_val=2, size=(64, 32))
    config = toy_config(tmp_path / "toy")
    config["model"]["backbone"] = {"pretrained": url}
    return write_config(tmp_path / "config.yml", config), url


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("weights") / "model.pdparams")
    paddle.save(build_plugin("T", num_classes=5).state_dict(), path)
    return path


@pytest.mark.parametrize("command", ["export", "val", "predict"])  # bench: the same built_model
def test_model_path_skips_the_pretrained_download(offline_config, weights, tmp_path, capsys, command):
    config, url = offline_config
    flags = {"export": ["--save_dir", str(tmp_path / "out")], "val": [],
             "predict": ["--image_path", str(tmp_path / "toy" / "leftImg8bit"),
                         "--save_dir", str(tmp_path / "out")]}[command]
    assert main([command, "--config", config, "--model_path", weights, *flags]) == 0
    out = capsys.readouterr().out
    assert f"{weights} gives the weights: not fetching model.backbone.pretrained ({url})" in out
    assert f"Loaded 247/247 tensors from {weights}" in out


def test_without_model_path_the_download_is_needed(offline_config, tmp_path, capsys):
    config, url = offline_config
    assert main(["export", "--config", config, "--save_dir", str(tmp_path / "out")]) == 1
    assert f"Could not download {url}" in capsys.readouterr().err
