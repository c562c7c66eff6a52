"""``paddleseg check-data``: exit 0 on clean data; else 1, with a report naming the files."""
import os

import numpy as np
import pytest
from PIL import Image

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.toy import CLASS_NAMES, make_toy_dataset
from toy_training import TOY_CONFIG, toy_opts


@pytest.fixture
def toy_root(tmp_path):
    root = str(tmp_path / "toy")
    make_toy_dataset(root, num_train=8, num_val=3, size=(64, 32))
    return root


def check_data(root, *flags, opts=()):
    return main(["check-data", "--config", TOY_CONFIG, *flags, "--opts", *toy_opts(root), *opts])


def label_pixels(root, file_list):
    """{value: pixels} over the labels of one of the toy file lists, counted here."""
    counts = np.zeros(256, dtype=np.int64)
    for line in open(os.path.join(root, file_list)):
        counts += np.bincount(np.array(Image.open(os.path.join(root, line.split()[1]))).ravel(), minlength=256)
    return {value: int(counts[value]) for value in np.flatnonzero(counts)}


def test_clean_data_passes_and_shows_each_class_pixels(toy_root, capsys):
    assert check_data(toy_root) == 0
    out = capsys.readouterr().out.split("val_dataset: ")
    train_lines, val_lines = out[0].splitlines(), ("val_dataset: " + out[1]).splitlines()
    assert train_lines[0] == "train_dataset: checked all 8 samples: no problems"
    assert val_lines[0] == "val_dataset: checked all 3 samples: no problems"
    for lines, file_list in ((train_lines, "train.txt"), (val_lines, "val.txt")):
        rows = [line.split() for line in lines[2:]]  # class, its name (or "(ignored)"), pixels, share, bar
        assert {int(row[0]): int(row[2]) for row in rows} == label_pixels(toy_root, file_list)
        assert {int(row[0]): row[1] for row in rows} == {**dict(enumerate(CLASS_NAMES[:5])), 255: "(ignored)"}


def test_broken_files_are_reported_by_kind_and_path(toy_root, capsys):
    lines = [line.split() for line in open(os.path.join(toy_root, "train.txt"))]
    image, empty_label, bad_label = (os.path.join(toy_root, path) for path in (lines[0][0], lines[1][1], lines[5][1]))
    with open(image, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n truncated")
    open(empty_label, "wb").close()
    label = np.array(Image.open(bad_label))
    label[:2, :2] = 19
    Image.fromarray(label).save(bad_label)

    assert check_data(toy_root) == 1
    captured = capsys.readouterr()
    out = captured.out
    assert out.startswith("train_dataset: checked all 8 samples: 3 problems in 3 samples\n")
    assert f"{image}: OpenCV cannot decode it (truncated, corrupt or not an image)" in out
    assert f"{empty_label}: empty file (0 bytes)" in out
    assert f"{bad_label}: values [19] in 4 pixels; valid are 0..4 and 255 (ignored)" in out
    assert "\nval_dataset: checked all 3 samples: no problems\n" in out
    assert captured.err.splitlines()[-1] == (f"paddleseg check-data: error: {TOY_CONFIG}: problems in train_dataset; "
                                             "see the report above")


def test_max_samples_checks_a_random_subset(toy_root, capsys):
    assert check_data(toy_root, "--max_samples", "3") == 0
    assert capsys.readouterr().out.startswith("train_dataset: checked 3 of 8 samples: no problems")


def test_config_problems_come_first_and_name_the_key(toy_root, capsys):
    assert check_data(toy_root, opts=["model.backbone.type=STDC3"]) == 1
    assert capsys.readouterr().err == (f"paddleseg check-data: error: {TOY_CONFIG}: model.backbone.type: unknown type "
                                       "'STDC3'; did you mean 'STDC2'?\n")


def test_a_dataset_paddleseg_cannot_build_is_named(toy_root, capsys):
    with open(os.path.join(toy_root, "val.txt"), "a") as f:
        f.write("one two three\n")
    assert check_data(toy_root) == 1
    assert capsys.readouterr().err.startswith(
        f"paddleseg check-data: error: {TOY_CONFIG}: val_dataset: File list format incorrect!")
