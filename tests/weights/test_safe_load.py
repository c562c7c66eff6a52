"""Loading weights never runs code: a pickle that would create a marker file is refused, naming the
file and the global, through every entry point; real Paddle and PaddleSeg files still load."""
import collections
import os
import pickle
import shutil

import numpy as np
import paddle
import pytest
from paddle.framework.io import load as paddle_load
from paddleseg.utils import utils

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from paddleseg_liteseg.weights.safe_load import UnsafeCheckpointError, load
from reference_models import build_plugin
from toy_training import toy_config, write_config

REFUSED = r"refers to posix\.system, which no Paddle checkpoint holds: refused to load it \(nothing in it was run\)"


class CreatesMarker:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def malicious(tmp_path):
    """(path of a .pdparams whose unpickling would create ``marker``, marker)."""
    marker = tmp_path / "marker"
    path = tmp_path / "evil" / "model.pdparams"
    path.parent.mkdir()
    with open(path, "wb") as file:
        pickle.dump({"backbone.features.0.conv.weight": CreatesMarker(marker)}, file, protocol=4)
    return path, marker


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Toy data and a config for it, whose backbone has no pretrained weights."""
    root = tmp_path_factory.mktemp("toy")
    make_toy_dataset(str(root), num_train=4, num_val=2, size=(64, 32))
    return root, write_config(root / "toy.yml", toy_config(root))


@pytest.fixture(scope="module")
def trainer_checkpoint(toy, tmp_path_factory):
    """``iter_2`` written by PaddleSeg's trainer: model.pdparams, and model.pdopt with SGD momentum
    and the LR scheduler's state, as the official configs train."""
    root, config = toy
    save_dir = tmp_path_factory.mktemp("run")
    assert main(["train", "--config", config, "--save_dir", str(save_dir), "--device", "cpu", "--iters", "2",
                 "--save_interval", "2", "--skip_data_check", "--opts", "batch_size=2",
                 "optimizer.type=SGD", "optimizer.momentum=0.9"]) == 0
    return save_dir / "iter_2"


def _assert_same(loaded, expected):
    assert type(loaded) is type(expected)
    if isinstance(expected, dict):
        assert list(loaded) == list(expected)
        for key in expected:
            _assert_same(loaded[key], expected[key])
    elif isinstance(expected, (list, tuple)):
        assert len(loaded) == len(expected)
        for a, b in zip(loaded, expected):
            _assert_same(a, b)
    elif isinstance(expected, (paddle.Tensor, np.ndarray)):
        np.testing.assert_array_equal(np.asarray(loaded), np.asarray(expected))
    else:
        assert loaded == expected


@pytest.mark.parametrize("name", ["model.pdparams", "model.pdopt"])
def test_trainer_checkpoints_load_as_paddle_loads_them(trainer_checkpoint, name):
    path = str(trainer_checkpoint / name)
    loaded = load(path)
    _assert_same(loaded, paddle_load(path))
    if name == "model.pdopt":
        assert loaded["LR_Scheduler"]["last_epoch"] == 2


def test_everything_paddle_save_writes_loads(tmp_path):
    """Tensors of every dtype, a tensor alone, nested dicts, OrderedDicts, lists, tuples, numbers."""
    layer = paddle.nn.Linear(2, 2)
    objects = {
        "tensor": paddle.randn([2, 3]),
        "dtypes": {dtype: paddle.ones([2]).astype(dtype) for dtype in
                   ["float16", "bfloat16", "float64", "int64", "int32", "bool", "uint8"]},
        "nested": {"model": layer.state_dict(), "epoch": 3,
                   "list": [paddle.ones([1]), 1, 2.5, "x", None, True],
                   "tuple": (1, np.float64(2.0), np.int64(3)), "ordered": collections.OrderedDict(a=1)},
    }
    for name, obj in objects.items():
        path = str(tmp_path / f"{name}.pdparams")
        paddle.save(obj, path)
        for return_numpy in (False, True):
            _assert_same(load(path, return_numpy=return_numpy), paddle_load(path, return_numpy=return_numpy))


def test_refused_before_anything_runs(malicious):
    path, marker = malicious
    with pytest.raises(UnsafeCheckpointError, match=f"{path} {REFUSED}"):
        load(str(path))
    with pytest.raises(UnsafeCheckpointError, match=REFUSED):  # what PaddleSeg and its trainer call
        paddle.load(str(path))
    assert not marker.exists()


def test_a_global_that_paddle_never_writes_is_refused(tmp_path):
    path = tmp_path / "eval.pdparams"
    with open(path, "wb") as file:
        pickle.dump({"weight": collections.Counter(a=1)}, file)
    with pytest.raises(UnsafeCheckpointError, match=r"refers to collections\.Counter"):
        load(str(path))


def test_paddleseg_loaders_refuse_it(malicious):
    path, marker = malicious
    model = build_plugin("T")
    for loader in (utils.load_entire_model, utils.load_pretrained_model):
        with pytest.raises(UnsafeCheckpointError, match=f"{path} {REFUSED}"):
            loader(model, str(path))
    assert not marker.exists()


@pytest.mark.parametrize("where", ["model.pretrained", "model.backbone.pretrained"])
def test_config_pretrained_refuses_it(malicious, toy, tmp_path, capsys, where):
    path, marker = malicious
    root, _ = toy
    config = toy_config(root)
    (config["model"] if where == "model.pretrained" else config["model"].setdefault("backbone", {}))[
        "pretrained"] = str(path)
    config_path = write_config(tmp_path / "config.yml", config)
    assert main(["export", "--config", config_path, "--save_dir", str(tmp_path / "out")]) == 1
    assert f"paddleseg export: error: {path} refers to posix.system" in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize("command", ["export", "val", "predict", "bench", "convert-weights"])
def test_commands_refuse_it(malicious, toy, tmp_path, capsys, command):
    path, marker = malicious
    root, config = toy
    flags = {"export": ["--save_dir", str(tmp_path / "out")], "val": [],
             "predict": ["--image_path", str(root / "leftImg8bit"), "--save_dir", str(tmp_path / "out")],
             "bench": ["--backend", "dygraph", "--input_shape", "1", "3", "32", "64", "--repeats", "1",
                       "--save_json", str(tmp_path / "bench.json")]}
    if command == "convert-weights":
        argv = [command, str(path), str(tmp_path / "out.pdparams")]
    else:
        argv = [command, "--config", config, "--model_path", str(path), *flags[command]]
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"paddleseg {command}: error: {path} refers to posix.system, which no Paddle")
    assert "Traceback" not in error and not marker.exists()


def test_resume_refuses_a_malicious_optimizer_state(trainer_checkpoint, malicious, tmp_path, toy, capsys):
    path, marker = malicious
    _, config = toy
    resume = tmp_path / "run" / "iter_2"
    shutil.copytree(trainer_checkpoint, resume)
    shutil.copy(path, resume / "model.pdopt")
    assert main(["train", "--config", config, "--save_dir", str(tmp_path / "run"), "--device", "cpu",
                 "--iters", "3", "--skip_data_check", "--resume_model", str(resume)]) == 1
    assert f"error: {resume / 'model.pdopt'} refers to posix.system" in capsys.readouterr().err
    assert not marker.exists()


def test_truncated_malicious_files_never_run(malicious):
    """Cut anywhere, the file is refused or unreadable; the part before a cut never runs."""
    from paddleseg_liteseg.weights.layouts import CheckpointError, read_checkpoint
    path, marker = malicious
    data = path.read_bytes()
    for length in range(1, len(data)):
        path.write_bytes(data[:length])
        with pytest.raises((UnsafeCheckpointError, CheckpointError)):
            read_checkpoint(str(path))
        assert not marker.exists(), length
