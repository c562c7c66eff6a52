"""`paddleseg serve`'s own checks: what it needs, what it refuses, and the line it prints."""
import pytest

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.cli.deploy.serve import _is_loopback


def test_needs_a_model(capsys):
    assert main(["serve"]) == 1
    assert "give --model_dir" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "four", "-2"])
def test_a_bad_max_batch_size_is_named(tmp_path, capsys, value):
    assert main(["serve", "--model_dir", str(tmp_path), "--max_batch_size", value]) == 1
    assert f"--max_batch_size: expected auto or a whole number >= 1, got '{value}'" in capsys.readouterr().err


def test_a_missing_serve_extra_is_named(monkeypatch, tmp_path, capsys):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "uvicorn" else real_find_spec(name, *args))
    assert main(["serve", "--model_dir", str(tmp_path)]) == 1
    assert "uvicorn not installed: pip install 'paddleseg-liteseg[serve]'" in capsys.readouterr().err


def test_a_folder_that_is_no_export_is_named_by_its_flag(tmp_path, capsys):
    assert main(["serve", "--model_dir", str(tmp_path)]) == 1
    assert f"--model_dir {tmp_path}" in capsys.readouterr().err


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                            ("0.0.0.0", False), ("192.168.1.5", False), ("::", False)])
def test_loopback_hosts(host, loopback):
    assert _is_loopback(host) == loopback
