"""A seeded synthetic segmentation dataset, written in the Cityscapes layout, for quick starts and tests.

Each image is a shaded, noisy background with a few overlapping shapes. A shape's class shows in
its outline, its texture and its colour statistics together: hues are drawn around a per-class
mean with enough spread and pixel noise that colour alone is ambiguous, yet a small CNN learns the
task in a few hundred CPU iterations. Some pixels are labelled 255 (ignore): an "ego-vehicle" hood
along the bottom edge, as in Cityscapes, and occasional noise patches. The same seed always gives
byte-identical files, and each image depends only on (seed, split, index).
"""
import colorsys
import json
import os
import shutil

import cv2
import numpy as np

from .class_info import CLASS_NAMES_FILE

CLASS_NAMES = ("background", "box", "disc", "triangle", "star", "ring")
PALETTE = ((90, 90, 90), (220, 40, 40), (40, 200, 60), (50, 80, 230), (230, 200, 30), (200, 50, 200))
IGNORE_INDEX = 255
CITY = "toyville"
SPLITS = ("train", "val")
METADATA_FILE = "toy_dataset.json"

# Mean hue (degrees) of each object class. Neighbours are 60 degrees apart and hues are drawn with a
# 40-degree spread, so they overlap: a pixel's colour alone does not tell its class, its shape and
# surroundings do, so a model must learn context, as on real data, to score well.
_HUE_MEANS = {1: 0.0, 2: 120.0, 3: 240.0, 4: 60.0, 5: 300.0}
_HUE_SPREAD = 40.0


def image_relpath(split, index):
    return f"leftImg8bit/{split}/{CITY}/{CITY}_{index:06d}_000019_leftImg8bit.png"


def label_relpath(split, index):
    return f"gtFine/{split}/{CITY}/{CITY}_{index:06d}_000019_gtFine_labelTrainIds.png"


def _rgb(hue_deg, saturation, value):
    return np.array(colorsys.hsv_to_rgb((hue_deg % 360.0) / 360.0, saturation, value)) * 255.0


def _background(rng, w, h):
    """Low-saturation colour, a vertical gradient and smooth blotches."""
    colour = _rgb(rng.uniform(0, 360), rng.uniform(0.05, 0.45), rng.uniform(0.35, 0.75))
    ramp = np.linspace(1.0 - rng.uniform(0, 0.3), 1.0 + rng.uniform(0, 0.3), h)[:, None, None]
    blotches = cv2.resize(rng.uniform(-0.15, 0.15, (4, 8)), (w, h), interpolation=cv2.INTER_CUBIC)
    return colour * ramp * (1.0 + blotches[..., None])


def _shape_mask(cls, rng, w, h):
    """Filled outline of one object of class ``cls``, plus its centre and size."""
    mask = np.zeros((h, w), np.uint8)
    r = rng.uniform(0.12, 0.3) * h
    cx, cy = rng.uniform(0, w), rng.uniform(0.1 * h, 0.9 * h)
    if cls == 1:  # axis-aligned box
        half_w, half_h = r * rng.uniform(0.6, 1.4), r * rng.uniform(0.6, 1.4)
        cv2.rectangle(mask, (int(cx - half_w), int(cy - half_h)), (int(cx + half_w), int(cy + half_h)), 1, -1)
    elif cls == 2:  # ellipse
        cv2.ellipse(mask, (int(cx), int(cy)), (int(r), int(r * rng.uniform(0.6, 1.0))),
                    rng.uniform(0, 180), 0, 360, 1, -1)
    elif cls == 3:  # triangle
        angles = rng.uniform(0, 2 * np.pi) + np.array([0, 2, 4]) * np.pi / 3 + rng.uniform(-0.3, 0.3, 3)
        _fill_polygon(mask, cx, cy, np.full(3, r * 1.2), angles)
    elif cls == 4:  # star
        points = 2 * int(rng.integers(5, 8))
        angles = rng.uniform(0, 2 * np.pi) + np.arange(points) * 2 * np.pi / points
        _fill_polygon(mask, cx, cy, np.where(np.arange(points) % 2 == 0, r * 1.2, r * 0.55), angles)
    else:  # thick ring
        cv2.ellipse(mask, (int(cx), int(cy)), (int(r), int(r)), 0, 0, 360, 1, max(3, int(r / 3)))
    return mask.astype(bool), cx, cy, r


def _fill_polygon(mask, cx, cy, radii, angles):
    corners = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
    cv2.fillPoly(mask, [np.round(corners).astype(np.int32)], 1)


def _texture(cls, rng, w, h, cx, cy, r):
    """Multiplicative shading: flat, radial, stripes, checker or speckle, depending on the class."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    period = rng.uniform(5, 9)
    if cls == 2:
        return 1.15 - 0.45 * np.minimum(((x - cx) ** 2 + (y - cy) ** 2) / r ** 2, 1.0)
    if cls == 3:
        theta = rng.uniform(0, np.pi)
        return 1.0 + 0.3 * np.sin(2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / period)
    if cls == 4:
        return 1.0 + 0.25 * np.sign(np.sin(np.pi * x / period) * np.sin(np.pi * y / period))
    if cls == 5:
        return 1.0 + 0.3 * rng.standard_normal((h, w))
    return np.ones((h, w))


def render_sample(rng, size, num_classes):
    """One (RGB uint8 image, uint8 label) pair drawn from ``rng``."""
    w, h = size
    image = _background(rng, w, h)
    label = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(3, 8))):
        cls = int(rng.integers(1, num_classes))
        mask, cx, cy, r = _shape_mask(cls, rng, w, h)
        colour = _rgb(rng.normal(_HUE_MEANS[cls], _HUE_SPREAD), rng.uniform(0.35, 0.9), rng.uniform(0.45, 0.95))
        image[mask] = (colour * _texture(cls, rng, w, h, cx, cy, r)[..., None])[mask]
        label[mask] = cls
    if rng.random() < 0.5:  # ego-vehicle hood
        hood = np.zeros((h, w), np.uint8)
        cv2.ellipse(hood, (w // 2, h), (int(w * rng.uniform(0.3, 0.5)), int(h * rng.uniform(0.08, 0.16))),
                    0, 0, 360, 1, -1)
        image[hood.astype(bool)] = rng.uniform(20, 50)
        label[hood.astype(bool)] = IGNORE_INDEX
    if rng.random() < 0.3:  # unlabelled noise patch
        pw, ph = int(rng.integers(w // 16, w // 6)), int(rng.integers(h // 16, h // 6))
        px, py = int(rng.integers(0, w - pw)), int(rng.integers(0, h - ph))
        image[py:py + ph, px:px + pw] = rng.uniform(0, 255, (ph, pw, 3))
        label[py:py + ph, px:px + pw] = IGNORE_INDEX
    image = image * rng.uniform(0.8, 1.2) + rng.normal(0, 6, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8), label


def make_toy_dataset(root, num_train=200, num_val=40, size=(256, 128), num_classes=5, seed=0):
    """Write the toy dataset under ``root`` and return its metadata (also saved as ``toy_dataset.json``,
    the class names as ``class_names.txt``).

    Layout: ``leftImg8bit/{train,val}/toyville/*_leftImg8bit.png`` and
    ``gtFine/{train,val}/toyville/*_gtFine_labelTrainIds.png``, with ``train.txt``/``val.txt`` for
    PaddleSeg's generic ``Dataset`` (give it ``num_classes``); PaddleSeg's ``Cityscapes`` finds the
    same pairs but assumes 19 classes. ``size`` is (width, height). Images of a previous run are replaced.
    """
    w, h = (int(v) for v in size)
    if not 2 <= num_classes <= len(CLASS_NAMES):
        raise ValueError(f"num_classes must be in [2, {len(CLASS_NAMES)}], got {num_classes}")
    if w < 32 or h < 32:
        raise ValueError(f"size (width, height) must be at least 32x32, got {size}")
    if num_train < 1 or num_val < 1:
        raise ValueError(f"num_train and num_val must be >= 1, got {num_train} and {num_val}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")

    counts = {"train": num_train, "val": num_val}
    for split_index, split in enumerate(SPLITS):
        for folder in ("leftImg8bit", "gtFine"):  # drop a previous run's images, which may be more
            shutil.rmtree(os.path.join(root, folder, split, CITY), ignore_errors=True)
        lines = []
        for i in range(counts[split]):
            image, label = render_sample(np.random.default_rng([seed, split_index, i]), (w, h), num_classes)
            image_path, label_path = image_relpath(split, i), label_relpath(split, i)
            _write_png(os.path.join(root, image_path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            _write_png(os.path.join(root, label_path), label)
            lines.append(f"{image_path} {label_path}\n")
        with open(os.path.join(root, f"{split}.txt"), "w") as f:
            f.writelines(lines)

    metadata = {
        "num_classes": num_classes,
        "class_names": list(CLASS_NAMES[:num_classes]),
        "palette": [list(c) for c in PALETTE[:num_classes]],
        "ignore_index": IGNORE_INDEX,
        "size": [w, h],
        "num_train": num_train,
        "num_val": num_val,
        "seed": int(seed),
    }
    with open(os.path.join(root, METADATA_FILE), "w") as f:
        json.dump(metadata, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(root, CLASS_NAMES_FILE), "w") as f:  # names for evaluation reports
        f.writelines(f"{name}\n" for name in metadata["class_names"])
    return metadata


def _write_png(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, array):
        raise OSError(f"could not write {path}")
