"""A folder of images and a folder of masks (or LabelMe files) -> a PaddleSeg dataset ready to train.

Images and masks are paired by their path below their folders without the extension
(``images/a/x.jpg`` with ``masks/a/x.png``); files without a partner are reported, never used
silently. Every mask is surveyed first to decide its format (``label_formats``), then converted to
a single-channel class-id PNG under ``OUTPUT/labels/`` (same sub-paths); the originals are only
read. The output folder gets PaddleSeg file lists (``train.txt``, ``val.txt``, ``test.txt``),
``class_names.txt``, ``dataset.json`` (format, counts, class pixel frequencies, suggested class
weights, palette) and T/B training configs (``own_data_configs``). Everything is written to a
temporary folder beside the output and moved into place at the end, so a failure leaves no half
dataset, and the same inputs and seed give the same bytes.
"""
import json
import os
import random
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..errors import DatasetError, UserError
from . import label_formats
from .class_info import CLASS_NAMES_FILE, DATASET_FILE
from .file_lists import list_line
from .own_data_configs import write_configs

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".json")
SPLIT_NAMES = ("train", "val", "test")
LABEL_DIR = "labels"
IGNORE_INDEX = label_formats.IGNORE_INDEX


class OutputExistsError(UserError):
    """The output folder already holds files and may not be replaced."""


@dataclass
class Pairing:
    """Images matched with masks by relative path without extension.

    Attributes:
        pairs (list): (key, image path, mask path), sorted by key.
        unpaired_images (list): Images without a mask.
        unpaired_masks (list): Masks without an image.
    """
    pairs: list
    unpaired_images: list = field(default_factory=list)
    unpaired_masks: list = field(default_factory=list)


def find_pairs(images_dir, labels_dir):
    """The ``Pairing`` of the images under ``images_dir`` with the masks under ``labels_dir``
    (searched recursively; a folder holding both pairs each image with its LabelMe .json)."""
    for name, folder in (("images", images_dir), ("labels", labels_dir)):
        if not os.path.isdir(folder):
            raise DatasetError(f"{name} folder not found: {folder}")
    same = os.path.realpath(images_dir) == os.path.realpath(labels_dir)
    images = _index(images_dir, IMAGE_SUFFIXES)
    masks = _index(labels_dir, (".json",) if same else MASK_SUFFIXES)
    if not images:
        raise DatasetError(f"{images_dir}: no images ({' '.join(IMAGE_SUFFIXES)}) in this folder or below")
    if not masks:
        raise DatasetError(f"{labels_dir}: no masks ({' '.join(MASK_SUFFIXES)}) in this folder or below")
    pairs = [(key, images[key], masks[key]) for key in sorted(images.keys() & masks.keys())]
    pairing = Pairing(pairs, [images[key] for key in sorted(images.keys() - masks.keys())],
                      [masks[key] for key in sorted(masks.keys() - images.keys())])
    if not pairs:
        raise DatasetError(f"no image in {images_dir} has a mask of the same name in {labels_dir} (e.g. "
                           f"{pairing.unpaired_images[0]} and {pairing.unpaired_masks[0]}); name each mask as "
                           "its image, with the mask's own extension")
    return pairing


def split_pairs(keys, fractions, seed=0):
    """{split name: sorted keys}: ``keys`` shuffled by ``seed`` and cut in the proportions ``fractions``
    (two or three non-negative numbers: train, val[, test]; 80 20 and 0.8 0.2 are the same)."""
    if len(fractions) not in (2, 3) or any(f < 0 for f in fractions) or not fractions[0] > 0:
        raise UserError(f"split {list(fractions)}: give train and val (and optionally test) shares, "
                        "train above 0, e.g. 0.8 0.2")
    keys = sorted(keys)
    random.Random(seed).shuffle(keys)
    total = sum(fractions)
    sizes = [round(len(keys) * share / total) for share in fractions[1:]]
    sizes = [max(size, 1) if share > 0 else 0 for size, share in zip(sizes, fractions[1:])]
    train_size = len(keys) - sum(sizes)
    if train_size < 1:
        raise DatasetError(f"{len(keys)} image(s) cannot be split {list(fractions)} with at least one image "
                           "in every part")
    splits, start = {}, 0
    for name, size in zip(SPLIT_NAMES, [train_size, *sizes]):
        splits[name] = sorted(keys[start:start + size])
        start += size
    return splits


def prepare_dataset(images_dir, labels_dir, output_dir, split=(0.8, 0.2), seed=0, label_format=None,
                    class_names=None, overwrite=False, workers=None):
    """Pair, convert and split a folder of images and masks into ``output_dir``; returns ``dataset.json``'s
    content plus ``pairing`` (the ``Pairing``) and ``label_format`` (the ``LabelFormat``).

    Args:
        images_dir, labels_dir (str): Folders of images and of masks (or LabelMe .json files).
        output_dir (str): Folder to create; it must not hold or be inside the input folders.
        split (tuple): Shares of train, val[, test].
        seed (int): Shuffling seed of the split.
        label_format (str, optional): One of ``label_formats.FORMATS``; default: detected.
        class_names (list, optional): (name, (r, g, b) or None) per class id.
        overwrite (bool): Replace an output folder that already holds files.
        workers (int, optional): Reading threads (default: the number of CPUs).
    """
    output_dir = os.path.abspath(output_dir)
    _check_output(output_dir, images_dir, labels_dir, overwrite)
    pairing = find_pairs(images_dir, labels_dir)
    splits = split_pairs([key for key, _, _ in pairing.pairs], split, seed)
    by_key = {key: (image, mask) for key, image, mask in pairing.pairs}
    executor = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)
    try:
        survey = label_formats.Survey()
        for contribution in executor.map(label_formats.survey_mask, [mask for _, _, mask in pairing.pairs]):
            survey.add(**contribution)
        chosen = label_formats.choose_format(survey, label_format, class_names)
        staging = _staging_folder(output_dir)
        try:
            def convert(key):
                return _convert(key, *by_key[key], chosen, staging)

            pixels, sizes = {}, []
            for name, keys in splits.items():
                counts = np.zeros(chosen.num_classes, dtype=np.int64)
                for class_pixels, size in executor.map(convert, keys):
                    counts += class_pixels
                    sizes.append(size)
                pixels[name] = counts
            summary = _write_outputs(staging, output_dir, splits, by_key, pairing, chosen, pixels, sizes,
                                     seed, split)
        except BaseException:
            executor.shutdown(cancel_futures=True)  # no conversion may still be writing into staging
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        executor.shutdown(cancel_futures=True)
    if os.path.exists(output_dir):
        shutil.rmtree(output_dir)
    os.replace(staging, output_dir)
    return dict(summary, pairing=pairing, label_format=chosen)


def class_weights(pixels):
    """Median-frequency class weights (Eigen and Fergus, 2015): median frequency / class frequency,
    so rare classes weigh more; a class with no pixels gets the largest weight."""
    pixels = np.asarray(pixels, dtype=np.float64)
    present = pixels > 0
    if not present.any():
        return [1.0] * len(pixels)
    frequencies = pixels / pixels.sum()
    weights = np.zeros_like(frequencies)
    weights[present] = np.median(frequencies[present]) / frequencies[present]
    weights[~present] = weights[present].max()
    return [round(float(weight), 4) for weight in weights]


def _staging_folder(output_dir):
    """A new folder beside ``output_dir``, with the permissions a plain new folder would get."""
    parent = os.path.dirname(output_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}.", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp's folder is private; the dataset is not
    return staging


def _index(folder, suffixes):
    """{relative path without extension ('/' separated): path} of the files under ``folder``."""
    files = {}
    for directory, subdirectories, names in os.walk(folder):
        subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or not name.lower().endswith(suffixes):
                continue
            path = os.path.join(directory, name)
            key = os.path.splitext(os.path.relpath(path, folder))[0].replace(os.sep, "/")
            if key in files:
                raise DatasetError(f"{files[key]} and {path} have the same name; which one belongs with the "
                                   "other folder's file is ambiguous: rename or remove one")
            files[key] = path
    return files


def _check_output(output_dir, images_dir, labels_dir, overwrite):
    for folder in {os.path.realpath(images_dir), os.path.realpath(labels_dir)}:
        real = os.path.realpath(output_dir)
        if real == folder or real.startswith(folder + os.sep) or folder.startswith(real + os.sep):
            raise UserError(f"output folder {output_dir} overlaps the input folder {folder}; write the "
                            "prepared dataset elsewhere (the inputs are never changed)")
    if os.path.isfile(output_dir):
        raise UserError(f"output {output_dir} is a file; give a folder")
    if os.path.isdir(output_dir) and os.listdir(output_dir) and not overwrite:
        raise OutputExistsError(f"output folder {output_dir} already holds files")


def _convert(key, image_path, mask_path, chosen, staging):
    """Convert one mask into ``staging``; (pixels per class, image (width, height))."""
    try:
        with Image.open(image_path) as image:
            size = image.size
    except (OSError, SyntaxError, ValueError) as error:
        raise DatasetError(f"{image_path}: PIL cannot read this image ({error})") from None
    label = label_formats.convert_mask(mask_path, chosen)
    if (label.shape[1], label.shape[0]) != size:
        raise DatasetError(f"{mask_path}: mask is {label.shape[1]}x{label.shape[0]}, its image {image_path} is "
                           f"{size[0]}x{size[1]} (width x height); a mask must cover its image pixel for pixel")
    path = os.path.join(staging, LABEL_DIR, *key.split("/")) + ".png"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(label, mode="L").save(path)
    counts = np.bincount(label.ravel(), minlength=256)
    return counts[:chosen.num_classes], size


def _write_outputs(staging, output_dir, splits, by_key, pairing, chosen, pixels, sizes, seed, split):
    for name, keys in splits.items():
        if name != "test" or keys:
            lines = []
            for key in keys:
                image = os.path.abspath(by_key[key][0])
                label = os.path.join(output_dir, LABEL_DIR, *key.split("/")) + ".png"
                line = list_line(image, label, output_dir)
                if len(line.split(" ")) != 2:
                    raise DatasetError(f"{image} / {label}: a path with spaces cannot go in PaddleSeg's "
                                       "space-separated file lists; rename the file or folder with the space")
                lines.append(line)
            with open(os.path.join(staging, f"{name}.txt"), "w") as file:
                file.write("".join(f"{line}\n" for line in lines))
    with open(os.path.join(staging, CLASS_NAMES_FILE), "w") as file:
        file.write("".join(f"{name}\n" for name in chosen.class_names))
    train_pixels = pixels["train"]
    labelled = max(int(train_pixels.sum()), 1)
    summary = {
        "format": chosen.name,
        "detection": chosen.detection,
        "num_classes": chosen.num_classes,
        "ignore_index": IGNORE_INDEX,
        "class_names": chosen.class_names,
        "palette": [list(colour) for colour in chosen.palette] if chosen.palette else None,
        "counts": {**{name: len(keys) for name, keys in splits.items()},
                   "unpaired_images": len(pairing.unpaired_images), "unpaired_masks": len(pairing.unpaired_masks)},
        "split": {"shares": list(split), "seed": seed},
        "image_sizes": {"min": [min(w for w, _ in sizes), min(h for _, h in sizes)],
                        "max": [max(w for w, _ in sizes), max(h for _, h in sizes)]},
        "class_pixels": {name: counts.tolist() for name, counts in pixels.items() if splits[name]},
        "pixel_frequencies": [round(count / labelled, 6) for count in train_pixels.tolist()],
        "class_weights": class_weights(train_pixels),
        "configs": write_configs(staging, output_dir, chosen.num_classes, sizes, chosen.class_names),
    }
    with open(os.path.join(staging, DATASET_FILE), "w") as file:
        json.dump(summary, file, indent=2)
        file.write("\n")
    return summary

