"""prepare_cityscapes on a fake raw Cityscapes: exact trainIds, polygons, file lists, idempotence, errors."""
import json
import os
import re
import runpy
import subprocess
import sys

import numpy as np
import pytest
from cityscapesscripts.helpers.labels import id2label, name2label
from PIL import Image

from paddleseg.datasets import Cityscapes, Dataset
from paddleseg.transforms import Normalize
from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.prepare_cityscapes import prepare_cityscapes
from paddleseg_liteseg.files.atomic import PARTIAL_SUFFIX
from file_tree import read_tree

H, W = 32, 64
CITIES = ("aachen", "bremen")
SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "prepare_cityscapes.py")
POLYGONS = [  # drawn in order, later ones on top
    {"label": "road", "polygon": [[0, 16], [63, 16], [63, 31], [0, 31]]},
    {"label": "car", "polygon": [[4, 4], [20, 4], [20, 12], [4, 12]]},
    {"label": "cargroup", "polygon": [[24, 4], [36, 4], [36, 12], [24, 12]]},
    {"label": "person", "polygon": [[40, 4], [50, 4], [50, 12], [40, 12]], "deleted": 1},
    {"label": "license plate", "polygon": [[6, 6], [10, 6], [10, 10], [6, 10]]},
    {"label": "ego vehicle", "polygon": [[0, 28], [63, 28], [63, 31], [0, 31]]},
]


def name(city, i):
    return f"{city}_{i:06d}_000019"


def label_ids_image(i):
    """Every Cityscapes label id 0..33, shifted per image."""
    return np.roll(np.arange(H * W) % 34, i).reshape(H, W).astype(np.uint8)


@pytest.fixture
def raw_root(tmp_path):
    """2 cities x 2 images with labelIds in train; 2 cities x 1 image with only polygons in val."""
    for split, per_city in (("train", 2), ("val", 1)):
        for c, city in enumerate(CITIES):
            os.makedirs(tmp_path / "leftImg8bit" / split / city)
            os.makedirs(tmp_path / "gtFine" / split / city)
            for i in range(per_city):
                stem = name(city, i)
                Image.fromarray(np.full((H, W, 3), 10 * i + c, np.uint8)).save(
                    tmp_path / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
                gt = tmp_path / "gtFine" / split / city / stem
                if split == "train":
                    Image.fromarray(label_ids_image(2 * c + i)).save(f"{gt}_gtFine_labelIds.png")
                else:
                    with open(f"{gt}_gtFine_polygons.json", "w") as f:
                        json.dump({"imgHeight": H, "imgWidth": W, "objects": POLYGONS}, f)
    return str(tmp_path)


def train_ids(root, split, city, i):
    return np.asarray(Image.open(os.path.join(root, "gtFine", split, city,
                                              f"{name(city, i)}_gtFine_labelTrainIds.png")))


def test_label_ids_become_cityscapesscripts_train_ids(raw_root):
    assert prepare_cityscapes(raw_root) == {"train": 4, "val": 2}
    for c, city in enumerate(CITIES):
        for i in range(2):
            ids = label_ids_image(2 * c + i)
            expected = np.vectorize(lambda v: id2label[v].trainId if 0 <= id2label[v].trainId < 255 else 255)(ids)
            np.testing.assert_array_equal(train_ids(raw_root, "train", city, i), expected)
    converted = train_ids(raw_root, "train", "aachen", 0)
    ids = label_ids_image(0)
    assert (converted[ids == 7] == 0).all() and (converted[ids == 26] == 13).all()  # road, car
    assert (converted[ids == 33] == 18).all()  # bicycle
    assert (converted[np.isin(ids, [0, 1, 3, 9, 14, 29])] == 255).all()  # void and not-trained classes


def test_polygons_are_drawn_when_label_ids_are_absent(raw_root):
    prepare_cityscapes(raw_root)
    label = train_ids(raw_root, "val", "bremen", 0)
    assert label.shape == (H, W)
    assert label[20, 30] == name2label["road"].trainId == 0
    assert label[8, 12] == label[8, 30] == name2label["car"].trainId == 13  # car, cargroup, under the plate
    assert label[8, 45] == 255  # deleted person leaves unlabeled background
    assert label[2, 2] == 255  # unlabeled background
    assert label[30, 30] == 255  # ego vehicle
    assert set(np.unique(label).tolist()) == {0, 13, 255}


def test_file_lists_pair_images_with_train_ids(raw_root):
    prepare_cityscapes(raw_root)
    with open(os.path.join(raw_root, "val.txt")) as f:
        assert f.read() == (
            "leftImg8bit/val/aachen/aachen_000000_000019_leftImg8bit.png "
            "gtFine/val/aachen/aachen_000000_000019_gtFine_labelTrainIds.png\n"
            "leftImg8bit/val/bremen/bremen_000000_000019_leftImg8bit.png "
            "gtFine/val/bremen/bremen_000000_000019_gtFine_labelTrainIds.png\n")
    with open(os.path.join(raw_root, "train.txt")) as f:
        assert len(f.read().splitlines()) == 4
    assert not os.path.exists(os.path.join(raw_root, "test.txt"))  # no gtFine/test


def test_paddleseg_reads_the_result(raw_root):
    prepare_cityscapes(raw_root)
    cityscapes = Cityscapes(transforms=[Normalize()], dataset_root=raw_root, mode="train")
    listed = Dataset(mode="train", dataset_root=raw_root, transforms=[Normalize()], num_classes=19,
                     train_path=os.path.join(raw_root, "train.txt"))
    assert len(cityscapes) == len(listed) == 4
    for dataset in (cityscapes, listed):
        sample = dataset[3]
        assert sample["img"].shape == (3, H, W)
        np.testing.assert_array_equal(sample["label"], train_ids(raw_root, "train", "bremen", 1))
        assert set(np.unique(sample["label"]).tolist()) == set(range(19)) | {255}


def parallel_command(root, *flags):
    """``paddleseg prepare-cityscapes --num_workers 2`` in a process of its own, as it is run: worker
    pools forked from this long test process (its DataLoader workers and runtime threads) crash it."""
    result = subprocess.run([sys.executable, "-m", "paddleseg_liteseg", "prepare-cityscapes", str(root),
                             "--num_workers", "2", *flags], capture_output=True, text=True)
    return result.returncode, result.stderr


@pytest.mark.slow
def test_is_idempotent_and_parallel_runs_match(raw_root, tmp_path_factory):
    prepare_cityscapes(raw_root, num_workers=1)
    first = read_tree(raw_root)
    stamp = os.stat(os.path.join(raw_root, "gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png"))
    assert parallel_command(raw_root)[0] == 0
    assert read_tree(raw_root) == first
    assert os.stat(os.path.join(raw_root, "gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png")
                   ).st_mtime_ns == stamp.st_mtime_ns  # kept, not rewritten
    assert parallel_command(raw_root, "--overwrite")[0] == 0
    assert read_tree(raw_root) == first
    assert not any(path.endswith(PARTIAL_SUFFIX) for path in first)


def test_command_reports_a_root_without_cityscapes_folders(tmp_path, capsys):
    os.makedirs(tmp_path / "leftImg8bit")
    assert main(["prepare-cityscapes", str(tmp_path), "--num_workers", "1"]) == 1
    assert re.search(r"prepare-cityscapes: error: not a Cityscapes root .*gtFine is missing",
                     capsys.readouterr().err)


def test_image_without_label_is_named(raw_root):
    os.remove(os.path.join(raw_root, "gtFine/train/bremen/bremen_000001_000019_gtFine_labelIds.png"))
    with pytest.raises(FileNotFoundError, match=r"image without label: .*bremen_000001_000019_leftImg8bit\.png"):
        prepare_cityscapes(raw_root)


def test_label_without_image_is_named(raw_root):
    os.remove(os.path.join(raw_root, "leftImg8bit/val/aachen/aachen_000000_000019_leftImg8bit.png"))
    with pytest.raises(FileNotFoundError, match=r"label without image: .*aachen_000000_000019_gtFine_polygons"):
        prepare_cityscapes(raw_root)


def test_unknown_label_id_is_named(raw_root):
    path = os.path.join(raw_root, "gtFine/train/aachen/aachen_000001_000019_gtFine_labelIds.png")
    Image.fromarray(np.full((H, W), 40, np.uint8)).save(path)
    code, err = parallel_command(raw_root)  # the error comes from a worker
    assert code == 1 and re.search(r"aachen_000001_000019_gtFine_labelIds\.png: unknown .* label ids \[40\]", err), err


def test_unknown_polygon_label_is_named_instead_of_exiting(raw_root):
    path = os.path.join(raw_root, "gtFine/val/bremen/bremen_000000_000019_gtFine_polygons.json")
    with open(path, "w") as f:
        json.dump({"imgHeight": H, "imgWidth": W,
                   "objects": [{"label": "spaceship", "polygon": [[0, 0], [5, 0], [5, 5]]}]}, f)
    with pytest.raises(ValueError, match=r"bremen_000000_000019_gtFine_polygons\.json: unknown .* label 'spaceship'"):
        prepare_cityscapes(raw_root)


def test_script_runs_main(raw_root, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [SCRIPT, raw_root, "--num_workers", "1"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(SCRIPT, run_name="__main__")
    assert exit_info.value.code == 0
    assert "train: 4 images" in capsys.readouterr().out
    assert os.path.isfile(os.path.join(raw_root, "val.txt"))
