"""The classic label mistakes: each one found in a dataset the test makes, named with its files and
values, and the prepare-dataset command it names turns the dataset into one that passes."""
import os
import shlex
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PIL import Image

from paddleseg_liteseg.checks import check_dataset
from paddleseg_liteseg.checks import data_checks, label_statistics
from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.prepare_dataset import class_weights

SIZE = (32, 16)  # width, height


def make_dataset(root, masks, num_classes, suffix=".png"):
    """Images and the given masks (PIL images) in root/images and root/masks; a PaddleSeg-like dataset."""
    file_list = []
    for index, mask in enumerate(masks):
        image, label = (os.path.join(root, folder, f"{index}{ext}") for folder, ext in
                        (("images", ".jpg"), ("masks", suffix)))
        os.makedirs(os.path.dirname(image), exist_ok=True)
        os.makedirs(os.path.dirname(label), exist_ok=True)
        cv2.imwrite(image, np.full((SIZE[1], SIZE[0], 3), 40 * index % 256, np.uint8))
        mask.save(label)
        file_list.append([image, label])
    return SimpleNamespace(file_list=file_list, num_classes=num_classes, ignore_index=255, dataset_root=root)


def blob_labels(count, values):
    """``count`` labels of background 0 and a rectangle of each of ``values``."""
    labels = []
    for index in range(count):
        label = np.zeros((SIZE[1], SIZE[0]), np.uint8)
        for offset, value in enumerate(values):
            label[2 + offset * 4:5 + offset * 4, 2 + index:12 + index] = value
        labels.append(label)
    return labels


def run_fix(fix, capsys):
    """Run the prepare-dataset command of a ``fix:`` line; the prepared dataset, as PaddleSeg reads it."""
    command = shlex.split(fix.split(": ", 1)[1])
    assert command[:2] == ["paddleseg", "prepare-dataset"]
    assert main(command[1:]) == 0
    capsys.readouterr()
    output = command[command.index("--output") + 1]
    lines = [line.split() for name in ("train.txt", "val.txt") for line in open(os.path.join(output, name))]
    num_classes = len(open(os.path.join(output, "class_names.txt")).read().split("\n")) - 1
    return SimpleNamespace(file_list=[[os.path.join(output, path) for path in line] for line in lines],
                           num_classes=num_classes, ignore_index=255, dataset_root=output)


def test_binary_masks_saved_as_0_255_ask_whether_255_is_the_foreground(tmp_path, capsys):
    labels = [label * 255 for label in blob_labels(5, [1])]
    dataset = make_dataset(str(tmp_path), [Image.fromarray(label) for label in labels], num_classes=2)
    report = check_dataset(dataset)
    assert not report.ok and not report.counts  # every value is valid; the labels as a whole are not
    share = np.mean([label == 255 for label in labels])
    assert report.dataset_problems == [(label_statistics.FOREGROUND_AS_IGNORE, (
        f"the labels hold only 0 and 255 (255 on {share:.1%} of the pixels, in 5 of 5 labels, e.g. "
        f"{', '.join(label for _, label in dataset.file_list[:3])}): 255 is the ignore index, so those pixels are "
        "never learned and the model sees class 0 only; is 255 your foreground?"))]
    assert report.fixes == [f"binary masks to 0/1: paddleseg prepare-dataset --images {tmp_path}/images --labels "
                            f"{tmp_path}/masks --output {tmp_path}_prepared --format binary"]
    assert f"problem: 255 foreground?: the labels hold only 0 and 255" in str(report)
    assert check_dataset(run_fix(report.fixes[0], capsys)).ok


def test_classes_numbered_from_1_are_named_and_renumbered(tmp_path, capsys):
    labels = [label + 1 for label in blob_labels(4, [1, 2])]  # background 1, classes 2 and 3
    dataset = make_dataset(str(tmp_path), [Image.fromarray(label) for label in labels], num_classes=3)
    report = check_dataset(dataset)
    assert report.counts[data_checks.LABEL_OUT_OF_RANGE] == 4  # the value 3 is out of range for 3 classes
    assert report.dataset_problems == [(label_statistics.NUMBERED_FROM_ONE, (
        "class 0 never occurs while values 1..3 all do: PaddleSeg's classes are 0..2, so 3 is out of range; are "
        "your classes numbered from 1?"))]
    prepared = run_fix(report.fixes[0], capsys)
    assert prepared.num_classes == 3 and check_dataset(prepared).ok


@pytest.mark.parametrize("kind", ["rgb", "palette"])
def test_colour_and_palette_masks_whose_values_are_not_class_ids(tmp_path, capsys, kind):
    colours = np.array([(0, 0, 0), (220, 20, 60), (0, 0, 142)], np.uint8)
    labels = blob_labels(4, [1, 2])
    if kind == "rgb":
        masks = [Image.fromarray(colours[label]) for label in labels]
    else:  # a palette PNG whose indices 0, 7, 12 hold the three colours
        masks = []
        for label in labels:
            mask = Image.fromarray(np.array([0, 7, 12], np.uint8)[label], mode="P")
            palette = np.zeros((256, 3), np.uint8)
            palette[[0, 7, 12]] = colours
            mask.putpalette(palette.ravel().tolist())
            masks.append(mask)
    dataset = make_dataset(str(tmp_path), masks, num_classes=3)
    report = check_dataset(dataset)
    if kind == "rgb":
        assert report.counts[data_checks.MULTICHANNEL_LABEL] == 4
        assert report.examples[data_checks.MULTICHANNEL_LABEL][0].detail == (
            "3 channels of colours: a colour mask, whose colours are not class ids; a label holds one class id a pixel")
    else:
        assert report.examples[data_checks.LABEL_OUT_OF_RANGE][0].detail.endswith(
            "valid are 0..2 and 255 (ignored); a palette PNG: are its indices class ids?")
    assert report.fixes[-1].endswith("--format rgb")
    prepared = run_fix(report.fixes[-1], capsys)
    assert prepared.num_classes == 3 and check_dataset(prepared).ok


def test_grey_masks_saved_as_colour_are_written_single_channel(tmp_path, capsys):
    labels = blob_labels(3, [1, 2])
    dataset = make_dataset(str(tmp_path), [Image.fromarray(np.stack([label] * 3, -1)) for label in labels], num_classes=3)
    report = check_dataset(dataset)
    assert report.examples[data_checks.MULTICHANNEL_LABEL][0].detail.startswith("3 channels all equal: a grey mask")
    assert report.fixes[-1].startswith("grey masks saved as colour to one channel: paddleseg prepare-dataset")
    assert not report.fixes[-1].endswith("--format rgb")
    prepared = run_fix(report.fixes[-1], capsys)
    assert check_dataset(prepared).ok
    for image, label in prepared.file_list:
        assert np.array_equal(np.array(Image.open(label)), labels[int(os.path.basename(image)[0])])


def test_absent_classes_and_strong_imbalance_are_warnings_naming_the_classes(tmp_path):
    labels = []
    for index in range(3):
        label = np.zeros((SIZE[1], SIZE[0]), np.uint8)
        label[0, index] = 1  # one pixel of class 1 a label: 3 in all
        labels.append(label)
    dataset = make_dataset(str(tmp_path), [Image.fromarray(label) for label in labels], num_classes=3)
    (tmp_path / "class_names.txt").write_text("sea\nship\nwhale\n")
    report = check_dataset(dataset)
    assert report.ok
    counts = [3 * SIZE[0] * SIZE[1] - 3, 3, 0]
    assert report.warnings == [
        "classes never occur in the 3 labels read: 2 (whale); the model cannot learn them",
        f"strong class imbalance: class 0 (sea) has {counts[0] / sum(counts):.2%} of the pixels, class 1 (ship) "
        f"{3 / sum(counts):.2%} ({counts[0] / 3:.0f} times fewer); the generated configs' OHEM loss already favours "
        f"hard pixels; or weigh classes with CrossEntropyLoss weight: {class_weights(counts)} (median frequency)"]
    total = sum(counts)
    assert [row.split() for row in report.histogram()[1:]] == [
        ["0", "sea", str(counts[0]), f"{counts[0] / total:.1%}", "#" * 30],
        ["1", "ship", "3", f"{3 / total:.1%}"], ["2", "whale", "0", "0.0%"]]


def test_training_refuses_0_255_masks_before_it_starts(tmp_path, capsys):
    masks = [Image.fromarray(label * 255) for label in blob_labels(4, [1])]
    dataset = make_dataset(str(tmp_path / "raw"), masks, num_classes=2)
    binary = [Image.fromarray(label) for label in blob_labels(4, [1])]
    prepared = make_dataset(str(tmp_path / "ok"), binary, num_classes=2)
    assert main(["prepare-dataset", "--images", f"{prepared.dataset_root}/images", "--labels",
                 f"{prepared.dataset_root}/masks", "--output", str(tmp_path / "out")]) == 0
    with open(tmp_path / "raw.txt", "w") as file:
        file.write("".join(f"{image} {label}\n" for image, label in dataset.file_list))
    code = main(["train", "--config", str(tmp_path / "out" / "pp_liteseg_t.yml"), "--iters", "1", "--opts",
                 f"train_dataset.train_path={tmp_path}/raw.txt", "model.backbone.pretrained=None"])
    error = capsys.readouterr().err
    assert code == 1
    assert "train_dataset: checked all 4 samples: 1 problem in the labels as a whole\nproblem: 255 foreground?" in error
    assert f"fix: binary masks to 0/1: paddleseg prepare-dataset --images {tmp_path}/raw/images" in error
