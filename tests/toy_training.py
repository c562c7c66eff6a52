"""Helpers for tests that run the ``paddleseg`` command on the toy dataset."""
import os

import yaml

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
