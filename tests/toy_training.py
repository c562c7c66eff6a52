"""Helpers for tests that run the ``paddleseg`` command on the toy dataset, and the recipe of the
toy-trained model the learning and deployment tests share."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy
import paddle
import paddleseg
import pytest
import yaml
from paddleseg.cvlibs.config import parse_from_yaml

import paddleseg_liteseg
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from recipe_cache import files_digest

TOY_CONFIG = os.path.join(os.path.dirname(__file__), "..", "configs", "toy",
                          "pp_liteseg_stdc1_toy_256x128_300.yml")


def toy_opts(root, **overrides):
    """``--opts`` values pointing the toy config at ``root`` (plus ``key=value`` overrides)."""
    opts = [f"train_dataset.dataset_root={root}", f"train_dataset.train_path={root}/train.txt",
            f"val_dataset.dataset_root={root}", f"val_dataset.val_path={root}/val.txt"]
    return opts + [f"{key}={value}" for key, value in overrides.items()]


def toy_config(root, num_classes=5):
    """A config inheriting the shipped toy config, pointed at the toy data in ``root`` (a dict, so
    tests can change it before ``write_config``)."""
    dataset = {"dataset_root": str(root), "num_classes": num_classes}
    return {"_base_": os.path.abspath(TOY_CONFIG), "model": {"num_classes": num_classes},
            "train_dataset": dict(dataset, train_path=f"{root}/train.txt"),
            "val_dataset": dict(dataset, val_path=f"{root}/val.txt")}


def write_config(path, config):
    with open(path, "w") as file:
        yaml.safe_dump(config, file)
    return str(path)


def read_scalars(save_dir, tag, log=None):
    """{step: value} of one VisualDL scalar tag written by training into ``save_dir`` (by default
    its only log; name ``log`` when a resumed run wrote a second one)."""
    from visualdl import LogReader
    if log is None:
        logs = [name for name in os.listdir(save_dir) if name.startswith("vdlrecords.")]
        assert len(logs) == 1, logs
        log = logs[0]
    return {record.id: record.value
            for record in LogReader(file_path=os.path.join(save_dir, log)).get_data("scalar", tag)}


def read_images(logdir, tag):
    """{step: RGB array} of one VisualDL image tag in ``logdir``'s only log."""
    import cv2
    import numpy as np
    from visualdl import LogReader
    (log,) = [name for name in os.listdir(logdir) if name.startswith("vdlrecords.")]
    records = LogReader(file_path=os.path.join(logdir, log)).get_data("image", tag)
    return {record.id: cv2.cvtColor(cv2.imdecode(np.frombuffer(record.image.encoded_image_string, np.uint8),
                                                 cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for record in records}


# The toy-trained model: enough iterations for the learning test's bound and for an argmax that
# tiny runtime differences do not flip (the deployment tests' agreement).
TOY_TRAINED = {"num_train": 80, "num_val": 20, "data_seed": 1, "iters": 100, "seed": 0}
# The package's code that the toy training runs and that changes its weights.
TRAINING_CODE = ("models/*.py", "datasets/*.py", "compat.py", "checks/*.py", "cli/training/train.py", "cli/common/config_flags.py")
LOG_LINES_SHOWN = 60


def toy_trained_recipe(recipe=TOY_TRAINED):
    """Everything the toy-trained weights depend on: the cache key of ``train_toy``'s result."""
    overrides = toy_config("<dataset root>")
    del overrides["_base_"]
    return {**recipe, "base_config": parse_from_yaml(TOY_CONFIG), "config": overrides,
            "code": files_digest(Path(paddleseg_liteseg.__file__).parent, TRAINING_CODE),
            "versions": {module.__name__: module.__version__ for module in (paddle, paddleseg, numpy, cv2)},
            "python": list(sys.version_info[:2])}


def train_toy(directory, scratch, recipe=TOY_TRAINED):
    """The toy dataset in ``directory``, and PP-LiteSeg-T trained on it by ``paddleseg train`` as
    ``directory/model.pdparams`` (its log as ``train.log``); ``scratch`` takes the rest. A failed
    training fails the tests that need it, showing the end of its log."""
    make_toy_dataset(str(directory), num_train=recipe["num_train"], num_val=recipe["num_val"],
                     seed=recipe["data_seed"])
    config = write_config(Path(scratch) / "train.yml", toy_config(directory))
    save_dir, iters = Path(scratch) / "train", str(recipe["iters"])
    result = subprocess.run([sys.executable, "-m", "paddleseg_liteseg", "train", "--config", config,
                             "--device", "cpu", "--save_dir", str(save_dir), "--iters", iters,
                             "--seed", str(recipe["seed"]), "--save_interval", iters, "--log_iters", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = Path(scratch) / "train.log"
    log.write_text(result.stdout)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-LOG_LINES_SHOWN:])
        pytest.fail(f"training the toy model failed (exit status {result.returncode}); the end of its log "
                    f"({log}):\n{tail}", pytrace=False)
    os.replace(save_dir / f"iter_{iters}" / "model.pdparams", Path(directory) / "model.pdparams")
    (Path(directory) / "train.log").write_text(result.stdout)
