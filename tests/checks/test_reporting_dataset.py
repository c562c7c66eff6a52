"""wrap_dataset: a broken sample met while training fails naming its file, with or without workers."""
import os
import pickle

import numpy as np
import paddle
import pytest
from paddleseg.core import train
from paddleseg.cvlibs import SegBuilder
from paddleseg.datasets import Dataset
from paddleseg.transforms import Normalize
from PIL import Image

from paddleseg_liteseg import compat
from paddleseg_liteseg.checks import load_config, wrap_dataset
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from paddleseg_liteseg.errors import DatasetError, SampleError
from toy_training import TOY_CONFIG, toy_opts


@pytest.fixture
def toy_root(tmp_path):
    root = str(tmp_path / "toy")
    make_toy_dataset(root, num_train=4, num_val=1, size=(64, 32))
    return root


def val_dataset(root, transforms=None):
    return Dataset(mode="val", dataset_root=root, transforms=transforms or [Normalize()], num_classes=5,
                   val_path=os.path.join(root, "train.txt"))


def truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])


def test_the_wrapped_dataset_is_the_dataset(toy_root):
    dataset = val_dataset(toy_root)
    wrapped = wrap_dataset(dataset)
    assert isinstance(wrapped, paddle.io.Dataset) and len(wrapped) == 4
    assert (wrapped.num_classes, wrapped.ignore_index, wrapped.file_list) == (5, 255, dataset.file_list)
    for got, expected in zip(wrapped[1].values(), dataset[1].values()):
        np.testing.assert_array_equal(got, expected)
    wrapped.file_list *= 2  # as `paddleseg train --repeats` does
    assert len(wrapped) == len(dataset) == 8
    wrapped.mode = "train"
    assert dataset.mode == "train"
    assert len(pickle.loads(pickle.dumps(wrapped))) == 8  # workers started by spawn get a copy


def test_a_corrupt_image_is_named_with_what_is_wrong(toy_root):
    dataset = val_dataset(toy_root)
    image = dataset.file_list[2][0]
    truncate(image)
    with pytest.raises(SampleError) as error:
        wrap_dataset(dataset)[2]
    assert str(error.value) == (f"{image}: unreadable image: OpenCV cannot decode it (truncated, corrupt or not an "
                                "image) (sample 2)")
    assert isinstance(error.value, DatasetError)


def test_a_missing_label_is_named(toy_root):
    dataset = val_dataset(toy_root)
    os.remove(dataset.file_list[0][1])
    with pytest.raises(SampleError, match=f"^{dataset.file_list[0][1]}: missing label: no such file"):
        wrap_dataset(dataset)[0]


def test_a_label_value_out_of_range_is_named(toy_root):
    dataset = val_dataset(toy_root)
    label_path = dataset.file_list[3][1]
    label = np.array(Image.open(label_path))
    label[0, :3] = 5  # 5 classes: 0..4
    Image.fromarray(label).save(label_path)
    with pytest.raises(SampleError) as error:
        wrap_dataset(dataset)[3]
    assert str(error.value) == (f"{label_path}: label values out of range: values [5] in 3 pixels; valid are 0..4 "
                                "and 255 (ignored) (sample 3)")
    assert (wrap_dataset(dataset, check_labels=False)[3]["label"] == 5).sum() == 3


def test_a_failure_the_files_do_not_explain_names_both_files_and_the_error(toy_root):
    def broken_transform(data):
        raise KeyError("trans_info")
    dataset = val_dataset(toy_root, transforms=[broken_transform])
    image, label = dataset.file_list[1]
    with pytest.raises(SampleError) as error:
        wrap_dataset(dataset)[1]
    assert str(error.value) == f"{image} / {label}: KeyError: 'trans_info' (sample 1)"
    assert isinstance(error.value.__cause__, KeyError)


def test_the_message_paddle_hands_on_from_a_worker_is_cut_to_ours():
    worker_text = ("DataLoader worker(1) caught SampleError with message:\nTraceback (most recent call last):\n"
                   '  File "worker.py", line 380, in _worker_loop\n'
                   "paddleseg_liteseg.errors.SampleError: a.png: unreadable image: bad (sample 2)\n")
    assert str(SampleError(worker_text)) == "a.png: unreadable image: bad (sample 2)"
    assert str(SampleError("a.png: plain")) == "a.png: plain"


@pytest.mark.parametrize("num_workers", [0, 2])
def test_training_on_a_corrupt_png_fails_naming_it(toy_root, tmp_path, num_workers):
    assert "DataLoader" in compat.FIXES, ("without compat's DataLoader fix Paddle's loader hangs on a failing "
                                          "sample (num_workers=0) or raises a bare SystemError (workers)")
    config = load_config(TOY_CONFIG, sections=("train_dataset",), opts=toy_opts(toy_root, batch_size=2))
    builder = SegBuilder(config)
    dataset = wrap_dataset(builder.train_dataset)
    image = dataset.file_list[1][0]
    truncate(image)
    with pytest.raises(SampleError) as error:
        train(builder.model, dataset, optimizer=builder.optimizer, save_dir=str(tmp_path / "out"), iters=4,
              batch_size=2, num_workers=num_workers, losses=builder.loss, save_interval=100)
    assert str(error.value).startswith(f"{image}: unreadable image: OpenCV cannot decode it")
