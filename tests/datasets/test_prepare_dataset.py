"""prepare_dataset: every mask format becomes exactly the class ids the test encoded, split
deterministically, with file lists, class names, dataset.json and configs PaddleSeg reads."""
import json
import os

import cv2
import numpy as np
import pytest
from paddleseg.datasets import Dataset
from paddleseg.transforms import Normalize
from PIL import Image

from file_tree import read_tree
from paddleseg_liteseg.checks import load_config
from paddleseg_liteseg.datasets import class_info
from paddleseg_liteseg.datasets.label_formats import parse_class_names
from paddleseg_liteseg.datasets.prepare_dataset import OutputExistsError, class_weights, prepare_dataset, split_pairs
from paddleseg_liteseg.errors import DatasetError, UserError

NUM = 6
SIZE = (40, 24)  # width, height
COLOURS = [(0, 0, 0), (200, 30, 30), (30, 200, 30), (30, 30, 200)]


def truths(num_classes, ignore=True, seed=0):
    """{stem: class-id label} with blobs of every class and some 255 pixels."""
    rng = np.random.default_rng(seed)
    labels = {}
    for index in range(NUM):
        label = rng.integers(0, num_classes, (SIZE[1] // 4, SIZE[0] // 4)).repeat(4, 0).repeat(4, 1).astype(np.uint8)
        if ignore:
            label[0, :] = 255
        labels[f"sub/img{index}" if index % 2 else f"img{index}"] = label
    return labels


def write_dataset(root, labels, encode, suffix=".png"):
    """Images and masks (``encode(label)`` -> a PIL image) under root/images and root/masks."""
    for stem, label in labels.items():
        for folder in ("images", "masks"):
            os.makedirs(os.path.dirname(os.path.join(root, folder, stem)), exist_ok=True)
        image = np.random.default_rng(len(stem)).integers(0, 256, (*label.shape, 3), dtype=np.uint8)
        cv2.imwrite(os.path.join(root, "images", stem + ".jpg"), image)
        encode(label).save(os.path.join(root, "masks", stem + suffix))
    return os.path.join(root, "images"), os.path.join(root, "masks")


def converted(output, stem):
    return np.array(Image.open(os.path.join(output, "labels", stem + ".png")))


def prepare(tmp_path, labels, encode, **kwargs):
    images, masks = write_dataset(str(tmp_path / "raw"), labels, encode)
    output = str(tmp_path / "out")
    return prepare_dataset(images, masks, output, **kwargs), output


def palette_png(label):
    image = Image.fromarray(label, mode="P")
    image.putpalette([value for colour in COLOURS for value in colour] + [255, 255, 255] * 252)
    return image


ENCODINGS = {  # name: (encode a class-id label as a mask, classes, detected format)
    "ids": (lambda label: Image.fromarray(label, mode="L"), 4, "ids"),
    "ids from 1": (lambda label: Image.fromarray(np.where(label == 255, 255, label + 1).astype(np.uint8)), 4, "ids"),
    "binary 0/255": (lambda label: Image.fromarray((label == 1).astype(np.uint8) * 255), 2, "binary"),
    "binary 0/1": (lambda label: Image.fromarray((label == 1).astype(np.uint8)), 2, "binary"),
    "grey saved as RGB": (lambda label: Image.fromarray(np.stack([label] * 3, -1)), 4, "ids"),
    "palette": (palette_png, 4, "palette"),
}


@pytest.mark.parametrize("name", ENCODINGS)
def test_each_format_is_detected_and_converted_pixel_exactly(tmp_path, name):
    encode, num_classes, detected = ENCODINGS[name]
    labels = truths(num_classes, ignore=name not in ("binary 0/255", "binary 0/1"))
    summary, output = prepare(tmp_path, labels, encode)
    assert summary["format"] == detected and summary["num_classes"] == num_classes
    for stem, label in labels.items():
        np.testing.assert_array_equal(converted(output, stem), label)
    if name == "ids from 1":
        assert "numbered from 1" in summary["detection"]
    if name == "palette":
        assert summary["palette"] == [list(colour) for colour in COLOURS]


def test_rgb_masks_map_colours_by_the_given_table(tmp_path):
    labels = truths(4, ignore=False)
    names = parse_class_names([f"{name} {r} {g} {b}" for name, (r, g, b) in zip("abcd", COLOURS)])
    summary, output = prepare(tmp_path, labels, lambda label: Image.fromarray(np.array(COLOURS, np.uint8)[label]),
                              class_names=names)
    assert (summary["format"], summary["class_names"]) == ("rgb", list("abcd"))
    for stem, label in labels.items():
        np.testing.assert_array_equal(converted(output, stem), label)


def test_rgb_masks_without_a_table_number_black_first_then_by_pixels(tmp_path):
    labels = truths(4, ignore=False)
    summary, output = prepare(tmp_path, labels, lambda label: Image.fromarray(np.array(COLOURS, np.uint8)[label]))
    pixels = np.bincount(np.concatenate([label.ravel() for label in labels.values()]), minlength=4)
    order = [0] + sorted(range(1, 4), key=lambda value: -pixels[value])  # COLOURS[0] is black
    assert summary["palette"] == [list(COLOURS[value]) for value in order]
    for stem, label in labels.items():
        np.testing.assert_array_equal(converted(output, stem), np.argsort(order)[label])
    assert f"{COLOURS[order[1]]} ({pixels[order[1]]} px)" in summary["detection"]


def test_a_colour_missing_from_the_table_is_named(tmp_path):
    names = parse_class_names(["bg #000000", "red #c81e1e"])
    with pytest.raises(DatasetError, match=r"colours the class table does not name: \(30, 200, 30\) in \d+ pixels"):
        prepare(tmp_path, truths(3, ignore=False), lambda label: Image.fromarray(np.array(COLOURS, np.uint8)[label]),
                class_names=names)


def test_outputs_are_what_paddleseg_reads_and_configs_build(tmp_path, monkeypatch):
    labels = truths(4)
    names = [(name, None) for name in ("sky", "road", "car", "tree")]
    summary, output = prepare(tmp_path, labels, ENCODINGS["ids"][0], class_names=names, split=(4, 1, 1))
    assert summary["counts"] == {"train": 4, "val": 1, "test": 1, "unpaired_images": 0, "unpaired_masks": 0}
    dataset = Dataset(mode="train", dataset_root=output, transforms=[Normalize()], num_classes=4,
                      train_path=os.path.join(output, "train.txt"))
    assert class_info.class_names(dataset) == ["sky", "road", "car", "tree"]
    for image_path, label_path in dataset.file_list:
        stem = os.path.relpath(label_path, os.path.join(output, "labels"))[:-4].replace(os.sep, "/")
        assert os.path.samefile(image_path, tmp_path / "raw" / "images" / f"{stem}.jpg")
    train_pixels = np.bincount(np.concatenate([np.array(Image.open(label)).ravel() for _, label in dataset.file_list]),
                               minlength=256)
    assert summary["class_pixels"]["train"] == train_pixels[:4].tolist()
    assert json.load(open(os.path.join(output, "dataset.json")))["class_weights"] == class_weights(train_pixels[:4])
    monkeypatch.chdir(tmp_path / "raw")  # any working directory
    for config_name in ("pp_liteseg_t.yml", "pp_liteseg_b.yml"):
        config = load_config(os.path.join(output, config_name))
        assert config.dic["model"]["num_classes"] == 4
        assert config.dic["train_dataset"]["transforms"][1]["crop_size"] == [32, 32]  # 40x24 -> multiples of 32
        assert config.dic["loss"]["types"][0]["min_kept"] == 4 * 32 * 32 // 16


def test_the_split_is_seeded_and_rerunning_gives_the_same_bytes(tmp_path):
    keys = [f"k{i}" for i in range(50)]
    first = split_pairs(keys, (0.7, 0.2, 0.1), seed=3)
    assert first == split_pairs(list(reversed(keys)), (70, 20, 10), seed=3)
    assert [len(first[name]) for name in ("train", "val", "test")] == [35, 10, 5]
    assert sorted(sum(first.values(), [])) == sorted(keys)
    assert first != split_pairs(keys, (0.7, 0.2, 0.1), seed=4)

    images, masks = write_dataset(str(tmp_path / "raw"), truths(3), ENCODINGS["ids"][0])
    output = str(tmp_path / "out")
    prepare_dataset(images, masks, output, seed=1)
    written = read_tree(output)
    with pytest.raises(OutputExistsError, match="already holds files"):
        prepare_dataset(images, masks, output, seed=1)
    prepare_dataset(images, masks, output, seed=1, overwrite=True)
    assert read_tree(output) == written


def test_originals_are_untouched_and_unpaired_files_reported(tmp_path):
    images, masks = write_dataset(str(tmp_path / "raw"), truths(2), ENCODINGS["binary 0/1"][0])
    Image.new("L", SIZE).save(os.path.join(masks, "orphan.png"))
    cv2.imwrite(os.path.join(images, "lonely.jpg"), np.zeros((4, 4, 3), np.uint8))
    before = read_tree(str(tmp_path / "raw"))
    summary = prepare_dataset(images, masks, str(tmp_path / "out"))
    assert read_tree(str(tmp_path / "raw")) == before
    assert summary["pairing"].unpaired_images == [os.path.join(images, "lonely.jpg")]
    assert summary["pairing"].unpaired_masks == [os.path.join(masks, "orphan.png")]
    assert summary["counts"]["train"] + summary["counts"]["val"] == NUM
    with pytest.raises(UserError, match="overlaps the input folder"):
        prepare_dataset(images, masks, os.path.join(images, "out"))


def test_a_mask_of_another_size_than_its_image_fails_naming_both_and_writes_nothing(tmp_path):
    images, masks = write_dataset(str(tmp_path / "raw"), truths(2), ENCODINGS["ids"][0])
    Image.new("L", (8, 8)).save(os.path.join(masks, "img0.png"))
    with pytest.raises(DatasetError, match=r"img0.png: mask is 8x8, its image .*img0.jpg is 40x24"):
        prepare_dataset(images, masks, str(tmp_path / "out"))
    assert os.listdir(tmp_path) == ["raw"]


def test_mixed_formats_are_refused_with_examples(tmp_path):
    labels = truths(3)
    images, masks = write_dataset(str(tmp_path / "raw"), labels, ENCODINGS["ids"][0])
    palette_png(labels["img0"]).save(os.path.join(masks, "img0.png"))
    with pytest.raises(DatasetError, match=r"the masks mix formats: 1 palette \(e.g. .*img0.png\); 5 single-channel"):
        prepare_dataset(images, masks, str(tmp_path / "out"))
