"""What a dataset knows about its classes: their names and colours, wherever the dataset keeps them.

Evaluation reports name classes with ``class_names``, and ``predict``/``infer`` overlays use
``palette``; both return None when the dataset does not say, so callers fall back to "class i"
and PaddleSeg's colour map.
"""
import os

CLASS_NAMES_FILE = "class_names.txt"


def class_names(dataset):
    """The dataset's class names (one per class id), or None.

    Read from the dataset class's ``CLASS_NAMES`` (CamVid), else from ``class_names.txt`` (one name
    a line) in the dataset's ``dataset_root``.
    """
    names = getattr(dataset, "CLASS_NAMES", None)
    if names:
        return list(names)
    root = getattr(dataset, "dataset_root", None)
    path = os.path.join(root, CLASS_NAMES_FILE) if root else None
    if path and os.path.isfile(path):
        with open(path) as file:
            return [line.strip() for line in file if line.strip()]
    return None


def palette(dataset):
    """The dataset's class colours as a list of (R, G, B), one per class id, or None."""
    colours = getattr(dataset, "PALETTE", None)
    return [tuple(int(value) for value in colour) for colour in colours] if colours else None
