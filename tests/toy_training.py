"""Helpers for tests that run the ``paddleseg`` command on the toy dataset."""
import os

TOY_CONFIG = os.path.join(os.path.dirname(__file__), "..", "configs", "toy",
                          "pp_liteseg_stdc1_toy_256x128_300.yml")


def toy_opts(root, **overrides):
    """``--opts`` values pointing the toy config at ``root`` (plus ``key=value`` overrides)."""
    opts = [f"train_dataset.dataset_root={root}", f"train_dataset.train_path={root}/train.txt",
            f"val_dataset.dataset_root={root}", f"val_dataset.val_path={root}/val.txt"]
    return opts + [f"{key}={value}" for key, value in overrides.items()]


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
