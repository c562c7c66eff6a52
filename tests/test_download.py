"""Offline, every download fails within seconds with one line naming the URL and the way out."""
import socket
import time

import pytest
from paddleseg.models.backbones import STDC1

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from paddleseg_liteseg.download import DownloadError
from toy_training import toy_config, write_config


@pytest.fixture
def unreachable_url():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there: connections are refused
    return f"http://127.0.0.1:{port}/PP_STDCNet1.tar.gz"


def test_paddleseg_backbone_download_names_the_url(unreachable_url):
    start = time.monotonic()
    with pytest.raises(DownloadError, match=rf"Could not download {unreachable_url}: .*local path"):
        STDC1(pretrained=unreachable_url)
    assert time.monotonic() - start < 10


def test_command_prints_the_download_error_not_a_traceback(unreachable_url, tmp_path, capsys):
    make_toy_dataset(str(tmp_path), num_train=2, num_val=1, size=(64, 32))
    config = toy_config(tmp_path)
    config["model"]["backbone"] = {"pretrained": unreachable_url}
    path = write_config(tmp_path / "config.yml", config)
    assert main(["train", "--config", path, "--save_dir", str(tmp_path / "out"), "--device", "cpu"]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"paddleseg train: error: Could not download {unreachable_url}")
    assert "Traceback" not in error
