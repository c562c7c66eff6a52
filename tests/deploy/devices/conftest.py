"""The toy model exported with its device files (``--format ncnn --format tflite --int8``), once."""
import importlib.util
import socket
from pathlib import Path

import pytest

from paddleseg_liteseg.cli import main

DEVICE_SIZE = (96, 160)  # H, W: SPPM's deepest feature is 3 x 5, so its 2 x 2 and 4 x 4 bins are uneven
CAMVID_SAMPLE = Path(__file__).resolve().parents[4] / "shared" / "data" / "camvid_sample"  # beside the clone, where it is
CONVERTERS = {"ncnn": ("ncnn", "pnnx"), "tflite": ("onnx2tf", "tensorflow", "ai_edge_litert")}


def installed(format):
    return all(importlib.util.find_spec(name) for name in ("onnxruntime", *CONVERTERS[format]))


@pytest.fixture(scope="session")
def device_export(toy_model, tmp_path_factory):
    """SimpleNamespace-like dict: the export's directory and the network connections it tried
    (sockets are refused while it runs)."""
    if not (installed("ncnn") and installed("tflite")):
        pytest.skip("needs the [ncnn] and [tflite] extras and pnnx (pip install --no-deps pnnx)")
    save_dir = tmp_path_factory.mktemp("device_export")
    attempts = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise OSError(f"the test refuses network connections ({address})")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", lambda self, address: refuse(address))
        patch.setattr(socket, "getaddrinfo", refuse)
        patch.setattr(socket, "create_connection", refuse)
        assert main(["export", "--config", toy_model.config, "--model_path", toy_model.checkpoint,
                     "--save_dir", str(save_dir), "--input_shape", "1", "3", *map(str, DEVICE_SIZE),
                     "--format", "ncnn", "--format", "tflite", "--int8", "--calib_num", "8",
                     "--int8_search_seconds", "0"]) == 0
    return {"dir": str(save_dir), "attempts": attempts}
