"""Make a raw Cityscapes download ready for PaddleSeg: ``*_gtFine_labelTrainIds.png`` plus file lists.

For each image ``leftImg8bit/<split>/<city>/<name>_leftImg8bit.png`` this writes
``gtFine/<split>/<city>/<name>_gtFine_labelTrainIds.png`` from ``<name>_gtFine_labelIds.png`` or,
where that is absent, from ``<name>_gtFine_polygons.json``, with cityscapesscripts' label table:
the 19 training classes become 0..18 and every other label 255 (ignored). It then writes
``<split>.txt`` ("image_path label_path" relative to the root) for each split present in gtFine.
Existing label images are kept unless ``overwrite``; each is written to a temporary name and then
renamed, so an interrupted run can just be started again.
"""
import glob
import multiprocessing
import os

import numpy as np
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.helpers.labels import labels, name2label
from cityscapesscripts.preparation.json2labelImg import createLabelImage
from PIL import Image
from tqdm import tqdm

from ..errors import DatasetError
from ..files.atomic import atomic_path
from .file_lists import list_line

SPLITS = ("train", "val", "test")
IGNORE_INDEX = 255
IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_IDS_SUFFIX = "_gtFine_labelIds.png"
POLYGONS_SUFFIX = "_gtFine_polygons.json"
TRAIN_IDS_SUFFIX = "_gtFine_labelTrainIds.png"


def train_id_table():
    """(lut, known): ``lut[label_id]`` is the trainId (255 when not trained on); ``known`` marks real ids."""
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    known = np.zeros(256, bool)
    for label in labels:
        if 0 <= label.id < 256:
            known[label.id] = True
            lut[label.id] = label.trainId if 0 <= label.trainId < IGNORE_INDEX else IGNORE_INDEX
    return lut, known


def find_samples(root):
    """{split: [(image, label source, label target), ...]} for each split in gtFine, sorted by image.

    Raises when an image has neither labelIds nor polygons, or a label has no image: PaddleSeg's
    ``Cityscapes`` pairs images with labels by sorted order, so either would shift every pair.
    """
    image_root, gt_root = os.path.join(root, "leftImg8bit"), os.path.join(root, "gtFine")
    for folder in (root, image_root, gt_root):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"not a Cityscapes root (needs leftImg8bit/ and gtFine/): {folder} is missing")
    samples = {}
    for split in SPLITS:
        if not os.path.isdir(os.path.join(gt_root, split)):
            continue
        images = sorted(glob.glob(os.path.join(image_root, split, "*", "*" + IMAGE_SUFFIX)))
        stems = {os.path.relpath(image, image_root)[:-len(IMAGE_SUFFIX)] for image in images}
        for suffix in (LABEL_IDS_SUFFIX, POLYGONS_SUFFIX):
            for label in glob.glob(os.path.join(gt_root, split, "*", "*" + suffix)):
                stem = os.path.relpath(label, gt_root)[:-len(suffix)]
                if stem not in stems:
                    raise FileNotFoundError(
                        f"label without image: {label} (expected {os.path.join(image_root, stem)}{IMAGE_SUFFIX})")
        samples[split] = [_sample(image, image_root, gt_root) for image in images]
    if not samples:
        raise FileNotFoundError(f"no split folder ({', '.join(SPLITS)}) in {gt_root}")
    return samples


def _sample(image, image_root, gt_root):
    stem = os.path.join(gt_root, os.path.relpath(image, image_root)[:-len(IMAGE_SUFFIX)])
    for suffix in (LABEL_IDS_SUFFIX, POLYGONS_SUFFIX):
        if os.path.isfile(stem + suffix):
            return image, stem + suffix, stem + TRAIN_IDS_SUFFIX
    raise FileNotFoundError(f"image without label: {image} (neither {stem}{LABEL_IDS_SUFFIX} "
                            f"nor {stem}{POLYGONS_SUFFIX} exists)")


def label_train_ids(source):
    """The trainId label image (PIL, mode L) for a ``*_labelIds.png`` or ``*_polygons.json`` file."""
    if source.endswith(LABEL_IDS_SUFFIX):
        with Image.open(source) as image:
            ids = np.asarray(image)
        lut, known = train_id_table()
        if ids.ndim != 2 or ids.dtype != np.uint8:
            raise DatasetError(f"{source}: expected a single-channel 8-bit label image, got {ids.dtype} {ids.shape}")
        if not known[ids].all():
            unknown = np.setdiff1d(np.unique(ids), np.flatnonzero(known)).tolist()
            raise DatasetError(f"{source}: unknown Cityscapes label ids {unknown}")
        return Image.fromarray(lut[ids], mode="L")
    annotation = Annotation()
    try:
        annotation.fromJsonFile(source)
    except (ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{source}: not a Cityscapes polygon annotation ({error!r})") from error
    for obj in annotation.objects:
        if not obj.deleted and not _known_label(obj.label):
            raise DatasetError(f"{source}: unknown Cityscapes label {obj.label!r}")
    return createLabelImage(annotation, "trainIds")


def _known_label(name):
    """Whether cityscapesscripts can draw ``name``: it reads "<label>group" (e.g. cargroup) as <label>
    and exits the whole process on any other unknown name, so those are caught before drawing."""
    return name in name2label or (name.endswith("group") and name[:-len("group")] in name2label)


def convert(task):
    """Write one ``*_labelTrainIds.png``; ``task`` is (source, target, overwrite)."""
    source, target, overwrite = task
    if overwrite or not os.path.isfile(target):
        label_image = label_train_ids(source)
        with atomic_path(target) as partial:
            label_image.save(partial, format="PNG")


def prepare_cityscapes(root, num_workers=1, overwrite=False):
    """Convert all labels under ``root`` and write the file lists; returns {split: number of samples}."""
    samples = find_samples(root)
    tasks = [(source, target, overwrite) for split in samples for _, source, target in samples[split]]
    with tqdm(total=len(tasks), desc="labelTrainIds", disable=None) as progress:
        if num_workers > 1:
            with multiprocessing.Pool(num_workers) as pool:
                for _ in pool.imap_unordered(convert, tasks, chunksize=8):
                    progress.update()
                # Let the workers exit by themselves: the pool's exit would kill them (SIGTERM), which
                # Paddle's signal handler in each worker prints as a fatal error.
                pool.close()
                pool.join()
        else:
            for task in tasks:
                convert(task)
                progress.update()
    for split, pairs in samples.items():
        with open(os.path.join(root, f"{split}.txt"), "w") as f:
            for image, _, target in pairs:
                f.write(list_line(image, target, root) + "\n")
    return {split: len(pairs) for split, pairs in samples.items()}
