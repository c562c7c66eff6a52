"""The toy-trained PP-LiteSeg-T and its export: what the deployment tests compare runtimes against."""
import importlib.util
from types import SimpleNamespace

import cv2
import numpy as np
import paddle
import pytest

from paddleseg_liteseg.cli import main
from toy_training import toy_config, write_config

ONNX_INSTALLED = all(importlib.util.find_spec(name) for name in ("paddle2onnx", "onnx", "onnxruntime"))


@pytest.fixture
def onnx_extra():
    """Skips a test that needs the [onnx] extra where it is not installed."""
    if not ONNX_INSTALLED:
        pytest.skip("needs the [onnx] extra (paddle2onnx, onnx, onnxruntime)")


@pytest.fixture(scope="session")
def toy_model(toy_trained):
    """The toy-trained PP-LiteSeg-T (tests/conftest.py): SimpleNamespace(root, config, checkpoint)."""
    return toy_trained


@pytest.fixture(scope="session")
def trained_model(toy_model):
    """The trained LiteSeg, freshly built from the config and loaded from the checkpoint, in eval mode."""
    from paddleseg.cvlibs import Config, SegBuilder

    from paddleseg_liteseg.models.weights import load_pretrained

    with paddle.utils.unique_name.guard():
        model = SegBuilder(Config(toy_model.config)).model
    load_pretrained(model, toy_model.checkpoint)
    model.eval()
    return model


@pytest.fixture(scope="session")
def exported(toy_model, tmp_path_factory):
    """``paddleseg export --int8`` (ONNX and int8 where the [onnx] extra is installed) of the
    trained model: dynamic shapes, argmax output."""
    save_dir = tmp_path_factory.mktemp("exported")
    onnx = ["--int8", "--calib_num", "16", "--int8_search_seconds", "30"] if ONNX_INSTALLED else []
    assert main(["export", "--config", toy_model.config, "--model_path", toy_model.checkpoint,
                 "--save_dir", str(save_dir), *onnx]) == 0
    return str(save_dir)


@pytest.fixture(scope="session")
def val_images(toy_model):
    """The toy val images as BGR arrays, as ``cv2.imread`` gives them."""
    paths = sorted((toy_model.root / "leftImg8bit" / "val").rglob("*.png"))
    return [cv2.imread(str(path)) for path in paths]


def normalize(images):
    """PaddleSeg's Normalize (the toy config's preprocessing) of BGR images: (N, 3, H, W) float32."""
    rgb = np.stack([image[:, :, ::-1] for image in images]).astype("float32")
    return ((rgb / 255.0 - 0.5) / 0.5).transpose(0, 3, 1, 2)


def dygraph_labels(model, batch):
    with paddle.no_grad():
        return paddle.argmax(model(paddle.to_tensor(batch))[0], axis=1).numpy()


@pytest.fixture(scope="session")
def helpers():
    return SimpleNamespace(normalize=normalize, dygraph_labels=dygraph_labels,
                           write_config=write_config, toy_config=toy_config)

