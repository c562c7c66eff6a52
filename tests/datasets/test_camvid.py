"""The CamVid dataset: registration, class metadata, loading prepared file lists, clear errors."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from paddleseg.cvlibs import manager
from paddleseg.transforms import Normalize
from paddleseg_liteseg.datasets.camvid import CamVid

H, W = 36, 48


@pytest.fixture
def camvid_root(tmp_path):
    """A prepared CamVid: images/, labels (0..10 and 255) and train/val/test lists."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("val", 2), ("test", 2)):
        lines = []
        for i in range(count):
            image, label = f"images/{split}_{i}.png", f"labels/{split}_{i}.png"
            for path, array in ((image, rng.integers(0, 256, (H, W, 3))),
                                (label, rng.choice([*range(11), 255], (H, W)))):
                os.makedirs(tmp_path / os.path.dirname(path), exist_ok=True)
                Image.fromarray(array.astype(np.uint8)).save(tmp_path / path)
            lines.append(f"{image} {label}\n")
        (tmp_path / f"{split}.txt").write_text("".join(lines))
    return str(tmp_path)


def test_is_registered_with_camvid_metadata():
    assert manager.DATASETS["CamVid"] is CamVid
    assert (CamVid.NUM_CLASSES, CamVid.IMG_CHANNELS, CamVid.IGNORE_INDEX) == (11, 3, 255)
    assert CamVid.CLASS_NAMES == ("Sky", "Building", "Pole", "Road", "Sidewalk", "Tree", "SignSymbol", "Fence",
                                  "Car", "Pedestrian", "Bicyclist")
    assert len(CamVid.PALETTE) == 11 and len(set(CamVid.PALETTE)) == 11
    assert CamVid.PALETTE[0] == (128, 128, 128) and CamVid.PALETTE[3] == (128, 64, 128)  # sky, road
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in CamVid.PALETTE)


def test_importing_the_package_registers_without_overwriting():
    completed = subprocess.run([sys.executable, "-c", "import paddleseg_liteseg.datasets"],
                               capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(
                                   os.path.dirname(os.path.abspath(__file__)))))
    assert completed.returncode == 0, completed.stderr
    assert "exists already" not in completed.stderr


def test_train_sample_matches_the_files(camvid_root):
    dataset = CamVid(transforms=[Normalize()], dataset_root=camvid_root)
    assert (len(dataset), dataset.num_classes, dataset.ignore_index) == (3, 11, 255)
    sample = dataset[1]
    assert sample["img"].shape == (3, H, W) and sample["img"].dtype == np.float32
    expected = np.asarray(Image.open(os.path.join(camvid_root, "labels/train_1.png")))
    np.testing.assert_array_equal(sample["label"], expected)
    assert set(np.unique(sample["label"]).tolist()) <= set(range(11)) | {255}


@pytest.mark.parametrize("mode, count", [("val", 2), ("test", 2)])
def test_val_and_test_modes_read_their_lists(camvid_root, mode, count):
    dataset = CamVid(transforms=[Normalize()], dataset_root=camvid_root, mode=mode)
    assert len(dataset) == count
    assert dataset[0]["label"].shape == ((1, H, W) if mode == "val" else (H, W))


def test_file_list_can_be_overridden(camvid_root):
    custom = os.path.join(camvid_root, "subset.txt")
    with open(custom, "w") as f:
        f.write("images/val_1.png labels/val_1.png\n")
    dataset = CamVid(transforms=[Normalize()], dataset_root=camvid_root, mode="val", val_path=custom)
    assert dataset.file_list == [[os.path.join(camvid_root, "images/val_1.png"),
                                  os.path.join(camvid_root, "labels/val_1.png")]]


def test_missing_root_is_named(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        CamVid(transforms=[Normalize()], dataset_root=missing)


def test_missing_list_is_named(camvid_root):
    os.remove(os.path.join(camvid_root, "val.txt"))
    with pytest.raises(FileNotFoundError, match=r"val\.txt.*prepare_camvid"):
        CamVid(transforms=[Normalize()], dataset_root=camvid_root, mode="val")


def test_list_naming_a_missing_file_is_named(camvid_root):
    with open(os.path.join(camvid_root, "train.txt"), "a") as f:
        f.write("images/gone.png labels/gone.png\n")
    with pytest.raises(FileNotFoundError, match=r"train\.txt names a missing file: .*gone\.png"):
        CamVid(transforms=[Normalize()], dataset_root=camvid_root)


def test_malformed_list_is_named(camvid_root):
    with open(os.path.join(camvid_root, "train.txt"), "a") as f:
        f.write("images/train_0.png\n")
    with pytest.raises(ValueError, match=r"train\.txt"):
        CamVid(transforms=[Normalize()], dataset_root=camvid_root)


def test_bad_mode_is_rejected(camvid_root):
    with pytest.raises(ValueError, match="trainval"):
        CamVid(transforms=[Normalize()], dataset_root=camvid_root, mode="trainval")
