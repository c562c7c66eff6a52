"""The toy dataset: deterministic bytes, Cityscapes layout and lists, valid labels, loadable by PaddleSeg."""
import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from paddleseg.datasets import Cityscapes, Dataset
from paddleseg.transforms import Normalize
from paddleseg_liteseg.datasets import toy
from paddleseg_liteseg.datasets.class_info import class_names

SMALL = dict(num_train=6, num_val=3, size=(96, 48))


def read_tree(root):
    """{relative path: bytes} of every file under root."""
    tree = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                tree[os.path.relpath(path, root)] = f.read()
    return tree


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("toy"))
    toy.make_toy_dataset(root, **SMALL)
    return root


def test_same_seed_gives_byte_identical_files(toy_root, tmp_path):
    toy.make_toy_dataset(str(tmp_path), **SMALL)
    assert read_tree(str(tmp_path)) == read_tree(toy_root)


def test_different_seed_gives_different_images(toy_root, tmp_path):
    toy.make_toy_dataset(str(tmp_path), seed=1, **SMALL)
    other, base = read_tree(str(tmp_path)), read_tree(toy_root)
    assert other.keys() == base.keys()
    pngs = [path for path in base if path.endswith(".png")]
    assert all(other[path] != base[path] for path in pngs)


def test_an_image_depends_only_on_seed_split_and_index(toy_root, tmp_path):
    toy.make_toy_dataset(str(tmp_path), num_train=2, num_val=1, size=SMALL["size"])
    for path in (toy.image_relpath("train", 1), toy.label_relpath("val", 0)):
        with open(os.path.join(tmp_path, path), "rb") as a, open(os.path.join(toy_root, path), "rb") as b:
            assert a.read() == b.read()


def test_writes_cityscapes_layout_lists_and_metadata(toy_root):
    for split, count in (("train", 6), ("val", 3)):
        with open(os.path.join(toy_root, f"{split}.txt")) as f:
            lines = f.read().splitlines()
        assert lines == [f"{toy.image_relpath(split, i)} {toy.label_relpath(split, i)}" for i in range(count)]
        assert lines[0] == (f"leftImg8bit/{split}/toyville/toyville_000000_000019_leftImg8bit.png "
                            f"gtFine/{split}/toyville/toyville_000000_000019_gtFine_labelTrainIds.png")
    with open(os.path.join(toy_root, "toy_dataset.json")) as f:
        metadata = json.load(f)
    assert metadata == {
        "num_classes": 5, "class_names": ["background", "box", "disc", "triangle", "star"],
        "palette": [list(c) for c in toy.PALETTE[:5]], "ignore_index": 255, "size": [96, 48],
        "num_train": 6, "num_val": 3, "seed": 0}
    assert class_names(SimpleNamespace(dataset_root=toy_root)) == metadata["class_names"]


def test_images_are_rgb_and_labels_hold_classes_and_ignore(toy_root):
    labels = []
    for split, count in (("train", 6), ("val", 3)):
        for i in range(count):
            image = np.asarray(Image.open(os.path.join(toy_root, toy.image_relpath(split, i))))
            label = np.asarray(Image.open(os.path.join(toy_root, toy.label_relpath(split, i))))
            assert image.shape == (48, 96, 3) and image.dtype == np.uint8
            assert label.shape == (48, 96) and label.dtype == np.uint8
            labels.append(label)
    values = set(np.unique(np.stack(labels)).tolist())
    assert values == {0, 1, 2, 3, 4, 255}


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2 ** 32), num_classes=st.integers(2, len(toy.CLASS_NAMES)),
       w=st.integers(32, 80), h=st.integers(32, 80))
def test_render_sample_gives_valid_pairs_for_any_seed_and_size(seed, num_classes, w, h):
    image, label = toy.render_sample(np.random.default_rng(seed), (w, h), num_classes)
    assert image.shape == (h, w, 3) and image.dtype == np.uint8
    assert label.shape == (h, w)
    assert set(np.unique(label).tolist()) <= set(range(num_classes)) | {255}


def test_paddleseg_dataset_reads_the_file_lists(toy_root):
    dataset = Dataset(mode="train", dataset_root=toy_root, transforms=[Normalize()], num_classes=5,
                      train_path=os.path.join(toy_root, "train.txt"))
    sample = dataset[0]
    assert len(dataset) == 6
    assert sample["img"].shape == (3, 48, 96) and -1.0 <= sample["img"].min() <= sample["img"].max() <= 1.0
    expected = np.asarray(Image.open(os.path.join(toy_root, toy.label_relpath("train", 0))))
    np.testing.assert_array_equal(sample["label"], expected)


def test_paddleseg_cityscapes_reads_the_layout(toy_root):
    dataset = Cityscapes(transforms=[Normalize()], dataset_root=toy_root, mode="val")
    assert len(dataset) == 3
    sample = dataset[2]
    assert sample["img"].shape == (3, 48, 96)
    assert sample["label"].shape == (1, 48, 96)
    assert set(np.unique(sample["label"]).tolist()) <= {0, 1, 2, 3, 4, 255}


@pytest.mark.parametrize("bad", [dict(num_classes=1), dict(num_classes=7), dict(size=(16, 64)),
                                 dict(num_val=0), dict(seed=-1)])
def test_rejects_bad_arguments(tmp_path, bad):
    with pytest.raises(ValueError):
        toy.make_toy_dataset(str(tmp_path), **{**SMALL, **bad})
