"""What a dataset knows about its classes: their names and colours, wherever the dataset keeps them.

Evaluation reports name classes with ``class_names``, and ``predict``/``infer`` overlays use
``palette``; both return None when the dataset does not say, so callers fall back to "class i"
and PaddleSeg's colour map. A dataset class may carry them (CamVid's ``CLASS_NAMES`` and
``PALETTE``); a PaddleSeg ``type: Dataset``, whose constructor takes neither, finds them in its
``dataset_root``: ``class_names.txt`` (one name a line) and ``dataset.json`` (``class_names`` and
``palette`` keys), both written by ``paddleseg prepare-dataset``.
"""
import json
import os

CLASS_NAMES_FILE = "class_names.txt"
DATASET_FILE = "dataset.json"


def class_names(dataset):
    """The dataset's class names (one per class id), or None.

    Read from the dataset's ``CLASS_NAMES`` (CamVid) or ``class_names`` attribute, else from
    ``class_names.txt``, else from the ``class_names`` key of ``dataset.json`` in its ``dataset_root``.
    """
    names = getattr(dataset, "CLASS_NAMES", None) or getattr(dataset, "class_names", None)
    if names:
        return list(names)
    path = _root_file(dataset, CLASS_NAMES_FILE)
    if path:
        with open(path) as file:
            return [line.strip() for line in file if line.strip()]
    names = _dataset_json(dataset).get("class_names")
    return [str(name) for name in names] if names else None


def palette(dataset):
    """The dataset's class colours as a list of (R, G, B), one per class id, or None.

    Read from the dataset's ``PALETTE`` attribute, else from the ``palette`` key of ``dataset.json``
    in its ``dataset_root``.
    """
    colours = getattr(dataset, "PALETTE", None) or _dataset_json(dataset).get("palette")
    return [tuple(int(value) for value in colour) for colour in colours] if colours else None


def _root_file(dataset, name):
    """The path of ``name`` in the dataset's ``dataset_root`` when that file exists, else None."""
    root = getattr(dataset, "dataset_root", None)
    path = os.path.join(root, name) if isinstance(root, str) else None
    return path if path and os.path.isfile(path) else None


def _dataset_json(dataset):
    """The ``dataset.json`` mapping in the dataset's root, or {} when there is none (or it is unreadable)."""
    path = _root_file(dataset, DATASET_FILE)
    if not path:
        return {}
    try:
        with open(path) as file:
            content = json.load(file)
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}
