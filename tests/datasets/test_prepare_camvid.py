"""prepare_camvid on a fake SegNet CamVid: void -> 255, originals untouched, lists, counts, errors."""
import os
import re
import runpy
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from paddleseg.transforms import Normalize
from paddleseg_liteseg.datasets import prepare_camvid as prepare_camvid_module
from paddleseg_liteseg.datasets.camvid import CamVid
from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.prepare_camvid import prepare_camvid
from file_tree import read_tree

H, W = 36, 48
COUNTS = {"train": 3, "val": 2, "test": 2}
SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "prepare_camvid.py")
SEGNET_LIST = "/SegNet/CamVid/train/0001TP_006690.png /SegNet/CamVid/trainannot/0001TP_006690.png\n"


@pytest.fixture
def raw_root(tmp_path):
    """SegNet layout with annotations 0..11 (11 = void) and SegNet's own train.txt."""
    rng = np.random.default_rng(0)
    root = tmp_path / "CamVid"
    for split, count in COUNTS.items():
        os.makedirs(root / split)
        os.makedirs(root / f"{split}annot")
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(root / split / f"0001TP_{i:06d}.png")
            Image.fromarray(rng.integers(0, 12, (H, W), dtype=np.uint8)).save(
                root / f"{split}annot" / f"0001TP_{i:06d}.png")
    (root / "train.txt").write_text(SEGNET_LIST)
    return str(root)


def prepare_recording_warnings(*args):
    """(prepare_camvid's result, the messages it warned)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        counts = prepare_camvid(*args)
    return counts, [str(w.message) for w in caught]


def prepare_quietly(*args):
    return prepare_recording_warnings(*args)[0]


def test_void_becomes_255_and_originals_are_untouched(raw_root):
    originals = {path: data for path, data in read_tree(raw_root).items() if path != "train.txt"}
    assert prepare_quietly(raw_root) == COUNTS
    after = read_tree(raw_root)
    assert {path: after[path] for path in originals} == originals
    for split, count in COUNTS.items():
        for i in range(count):
            annotation = np.asarray(Image.open(os.path.join(raw_root, f"{split}annot", f"0001TP_{i:06d}.png")))
            label = np.asarray(Image.open(os.path.join(raw_root, "labels_ignore255", split, f"0001TP_{i:06d}.png")))
            np.testing.assert_array_equal(label, np.where(annotation == 11, 255, annotation))
            assert set(np.unique(label).tolist()) == set(range(11)) | {255}


def test_file_lists_pair_images_with_converted_labels(raw_root):
    prepare_quietly(raw_root)
    with open(os.path.join(raw_root, "val.txt")) as f:
        assert f.read() == ("val/0001TP_000000.png labels_ignore255/val/0001TP_000000.png\n"
                            "val/0001TP_000001.png labels_ignore255/val/0001TP_000001.png\n")


def test_segnet_list_is_kept_aside_once_and_reruns_are_identical(raw_root):
    _, messages = prepare_recording_warnings(raw_root)
    assert [m for m in messages if "replaced" in m] == [
        f"{raw_root}/train.txt is replaced; its previous content is kept in {raw_root}/train.txt.orig"]
    with open(os.path.join(raw_root, "train.txt.orig")) as f:
        assert f.read() == SEGNET_LIST
    first = read_tree(raw_root)
    _, messages = prepare_recording_warnings(raw_root)
    assert read_tree(raw_root) == first
    assert not any("replaced" in m for m in messages)


def test_counts_other_than_segnets_warn(raw_root, monkeypatch):
    _, messages = prepare_recording_warnings(raw_root)
    count_warnings = [m for m in messages if "SegNet's split" in m]
    assert len(count_warnings) == 3
    assert re.fullmatch(r"CamVid train has 3 images in .*CamVid/train, SegNet's split has 367", count_warnings[0])
    assert re.fullmatch(r"CamVid test has 2 images in .*CamVid/test, SegNet's split has 233", count_warnings[2])
    monkeypatch.setattr(prepare_camvid_module, "EXPECTED_COUNTS", COUNTS)
    _, messages = prepare_recording_warnings(raw_root)
    assert not any("SegNet's split" in m for m in messages)


def test_camvid_dataset_loads_the_result(raw_root):
    prepare_quietly(raw_root)
    dataset = CamVid(transforms=[Normalize()], dataset_root=raw_root, mode="val")
    assert len(dataset) == 2
    sample = dataset[1]
    assert sample["img"].shape == (3, H, W)
    assert sample["label"].shape == (1, H, W)
    assert set(np.unique(sample["label"]).tolist()) <= set(range(11)) | {255}


def test_output_dir_holds_labels_and_lists(raw_root, tmp_path):
    out = str(tmp_path / "prepared")
    prepare_quietly(raw_root, out)
    with open(os.path.join(out, "test.txt")) as f:
        assert f.readline() == "../CamVid/test/0001TP_000000.png labels_ignore255/test/0001TP_000000.png\n"
    assert not os.path.exists(os.path.join(raw_root, "labels_ignore255"))
    train = CamVid(transforms=[Normalize()], dataset_root=out)
    assert len(train) == 3 and train[0]["label"].shape == (H, W)


def test_trainval_list_is_train_then_val(raw_root):
    prepare_quietly(raw_root)
    read = lambda name: open(os.path.join(raw_root, name)).read().splitlines()  # noqa: E731
    assert read("trainval.txt") == read("train.txt") + read("val.txt")
    assert len(CamVid(transforms=[Normalize()], dataset_root=raw_root,
                      train_path=os.path.join(raw_root, "trainval.txt"))) == 5


def test_image_without_annotation_is_named(raw_root):
    os.remove(os.path.join(raw_root, "valannot", "0001TP_000001.png"))
    with pytest.raises(FileNotFoundError, match=r"image without annotation: .*val/0001TP_000001\.png"):
        prepare_quietly(raw_root)


def test_annotation_value_beyond_void_is_named(raw_root):
    Image.fromarray(np.full((H, W), 12, np.uint8)).save(os.path.join(raw_root, "testannot", "0001TP_000000.png"))
    with pytest.raises(ValueError, match=r"testannot/0001TP_000000\.png: values must be 0\.\.11 .*\[12\]"):
        prepare_quietly(raw_root)


def test_annotation_of_another_size_is_named(raw_root):
    Image.fromarray(np.zeros((H, W + 1), np.uint8)).save(os.path.join(raw_root, "trainannot", "0001TP_000002.png"))
    with pytest.raises(ValueError, match=r"trainannot/0001TP_000002\.png: size \(49, 36\) \(width, height\) differs"):
        prepare_quietly(raw_root)


def test_command_reports_missing_folders(raw_root, tmp_path, capsys):
    assert main(["prepare-camvid", str(tmp_path / "nowhere")]) == 1
    assert re.search(r"prepare-camvid: error: CamVid root not found: .*nowhere", capsys.readouterr().err)
    os.rename(os.path.join(raw_root, "valannot"), os.path.join(raw_root, "val_labels"))
    assert main(["prepare-camvid", raw_root]) == 1
    assert re.search(r"CamVid val annotation folder not found: .*valannot", capsys.readouterr().err)


def test_script_runs_main(raw_root, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [SCRIPT, raw_root])
    with pytest.raises(SystemExit) as exit_info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runpy.run_path(SCRIPT, run_name="__main__")
    assert exit_info.value.code == 0
    assert "test: 2 images" in capsys.readouterr().out
