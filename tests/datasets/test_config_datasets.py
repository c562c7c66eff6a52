"""A config's dataset that cannot be built: absent or malformed files give None and the reason,
a bug in the dataset's code keeps its traceback (it must not read as "no images")."""
import pytest
from paddleseg.cvlibs import manager

from paddleseg_liteseg.api import load
from paddleseg_liteseg.datasets.config_datasets import config_dataset
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from toy_training import toy_config


def test_a_dataset_whose_files_are_absent_gives_the_reason(tmp_path):
    make_toy_dataset(str(tmp_path), num_train=2, num_val=1, size=(64, 32))
    builder = load(toy_config(tmp_path))[1]
    (tmp_path / "val.txt").unlink()
    dataset, why = config_dataset(builder, "val_dataset")
    assert dataset is None and "val_path" in why and "val.txt" in why
    assert config_dataset(builder, "train_dataset")[0] is not None


def test_a_bug_in_a_dataset_keeps_its_traceback(tmp_path, monkeypatch):
    make_toy_dataset(str(tmp_path), num_train=2, num_val=1, size=(64, 32))
    builder = load(toy_config(tmp_path))[1]
    broken = type("BrokenDataset", (), {"__init__": lambda self, **kwargs: 1 / 0})
    monkeypatch.setitem(manager.DATASETS._components_dict, "BrokenDataset", broken)
    builder.config.dic["val_dataset"]["type"] = "BrokenDataset"
    with pytest.raises(RuntimeError) as error:
        config_dataset(builder, "val_dataset")
    assert isinstance(error.value.__context__, ZeroDivisionError)  # PaddleSeg's builder wrapped the bug
