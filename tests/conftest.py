"""Shared fixtures: the toy-trained PP-LiteSeg-T and its export, which the learning, deployment,
command-line and serving tests compare against."""
import importlib.util
import signal
from types import SimpleNamespace

import cv2
import numpy as np
import paddle
import pytest

import paddleseg_liteseg  # noqa: F401  (registers the plugin, applies the Paddle 3 fixes)
from paddleseg_liteseg.cli import main
from recipe_cache import cached_directory
from reference_models import build_official
from toy_training import toy_config, toy_trained_recipe, train_toy, write_config


@pytest.fixture(autouse=True)
def default_sigchld_handling():
    """Each test leaves SIGCHLD as a fresh process has it. Paddle's multi-process DataLoader installs
    a process-wide SIGCHLD handler that inspects its workers whenever any child process exits; left
    in place by one test, it ran in every later test that started a process, and the suite's
    process died in one of them (SIGSEGV)."""
    yield
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)


@pytest.fixture(scope="session")
def official_t_checkpoint(tmp_path_factory):
    """An official-layout PP-LiteSeg-T checkpoint (19 classes) on disk, and the model it came from."""
    model = build_official("T")
    path = str(tmp_path_factory.mktemp("official") / "pp_liteseg_t.pdparams")
    paddle.save(model.state_dict(), path)
    return path, model


@pytest.fixture(scope="session")
def toy_trained(tmp_path_factory):
    """PP-LiteSeg-T trained by ``paddleseg train`` with the shipped toy config, for the learning test
    to score and the deployment tests to compare runtimes on (a random model's argmax is chaotic:
    tiny float differences flip many pixels); trained once per recipe and cached across runs
    (tests/recipe_cache.py). SimpleNamespace(root, config, checkpoint): ``root`` holds the dataset
    and is shared, so read-only."""
    scratch = tmp_path_factory.mktemp("toy_trained")
    root = cached_directory("toy_trained", toy_trained_recipe(), lambda directory: train_toy(directory, scratch),
                            scratch)
    return SimpleNamespace(root=root, config=write_config(scratch / "toy.yml", toy_config(root)),
                           checkpoint=str(root / "model.pdparams"))


ONNX_INSTALLED = all(importlib.util.find_spec(name) for name in ("paddle2onnx", "onnx", "onnxruntime"))


@pytest.fixture
def onnx_extra():
    """Skips a test that needs the [onnx] extra where it is not installed."""
    if not ONNX_INSTALLED:
        pytest.skip("needs the [onnx] extra (paddle2onnx, onnx, onnxruntime)")


@pytest.fixture(scope="session")
def toy_model(toy_trained):
    """The toy-trained PP-LiteSeg-T: SimpleNamespace(root, config, checkpoint)."""
    return toy_trained


@pytest.fixture(scope="session")
def trained_model(toy_model):
    """The trained LiteSeg, freshly built from the config and loaded from the checkpoint, in eval mode."""
    from paddleseg.cvlibs import Config, SegBuilder

    from paddleseg_liteseg.weights.layouts import load_pretrained

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


FIXED_SIZE = (96, 160)  # H, W of the fixed-shape export; the toy images are 128x256
OTHER_SIZES = [(100, 150), (200, 300)]  # H, W of images a fixed-shape export is run on


@pytest.fixture(scope="session")
def fixed_size():
    """(H, W) the fixed-shape export takes."""
    return FIXED_SIZE


@pytest.fixture(scope="session")
def fixed_export(toy_model, tmp_path_factory):
    """``paddleseg export --onnx --input_shape 1 3 96 160`` of the trained model (no int8)."""
    if not ONNX_INSTALLED:
        pytest.skip("needs the [onnx] extra (paddle2onnx, onnx, onnxruntime)")
    save_dir = tmp_path_factory.mktemp("fixed_export")
    assert main(["export", "--config", toy_model.config, "--model_path", toy_model.checkpoint,
                 "--save_dir", str(save_dir), "--onnx", "--input_shape", "1", "3", *map(str, FIXED_SIZE)]) == 0
    return str(save_dir)


@pytest.fixture(scope="session")
def other_size_images(val_images):
    """Toy val images resized to ``OTHER_SIZES``: neither the fixed export's size nor each other's."""
    return [cv2.resize(image, (width, height)) for image, (height, width) in zip(val_images, OTHER_SIZES)]


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

