"""The classic label mistakes that train without an error into a useless model, found from the
pixel counts of a whole dataset's labels.

Each sample's values can all be valid while the dataset is wrong: binary masks saved as 0/255
(255 is PaddleSeg's ignore index, so every foreground pixel is ignored and the model learns "all
background"), classes numbered 1..N (N is out of range, "Target N out of bound"), classes that never
occur, and strong imbalance. ``LabelStatistics`` sums the per-class pixels as ``check_dataset``
reads the labels; ``findings`` turns them into problems, warnings and the ``paddleseg
prepare-dataset`` command that fixes them.
"""
import os
from collections import Counter

import numpy as np

from ..datasets.prepare_dataset import class_weights

FOREGROUND_AS_IGNORE = "255 foreground?"
NUMBERED_FROM_ONE = "classes numbered from 1"
IMBALANCE_RATIO = 100  # most / least frequent class: two orders of magnitude is "strong"
EXAMPLES = 3
HISTOGRAM_BAR = 30


class LabelStatistics:
    """Pixels per label value over the labels read, and the first labels holding the ignore index."""

    def __init__(self, ignore_index):
        self.ignore_index = ignore_index
        self.pixels = Counter()
        self.labels = 0  # labels counted
        self.labels_with_ignore = 0
        self.ignore_examples = []
        self.image_paths, self.label_paths = [], []

    def add(self, image_path, label_path, values=None, counts=None):
        """Note one labelled sample, and count its label's pixels: ``values`` found and their ``counts``
        (from ``value_counts``; None for a label that could not be used)."""
        self.image_paths.append(image_path)
        self.label_paths.append(label_path)
        if values is None:
            return
        self.pixels.update(dict(zip(values, counts)))
        self.labels += 1
        if self.ignore_index in values:
            self.labels_with_ignore += 1
            if len(self.ignore_examples) < EXAMPLES:
                self.ignore_examples.append(label_path)

    def prepare_command(self, label_format=None):
        """The ``paddleseg prepare-dataset`` command that converts these labels (into a new folder)."""
        images = _common_folder(self.image_paths)
        labels = _common_folder(self.label_paths)
        output = _common_folder(self.image_paths + self.label_paths).rstrip(os.sep) + "_prepared"
        command = f"paddleseg prepare-dataset --images {images} --labels {labels} --output {output}"
        return command + (f" --format {label_format}" if label_format else "")

    def histogram(self, num_classes, class_names=None):
        """Lines of a per-class pixel table: class id, name, pixels, share of all pixels, a bar."""
        total = sum(self.pixels.values()) or 1
        values = sorted(set(range(num_classes)) | set(self.pixels))
        lines = [f"  {'class':<24} {'pixels':>12} {'share':>7}"]
        for value in values:
            if value == self.ignore_index:
                name = "(ignored)"
            elif 0 <= value < num_classes:
                name = class_names[value] if class_names and value < len(class_names) else ""
            else:
                name = "(out of range)"
            share = self.pixels[value] / total
            lines.append(f"  {f'{value} {name}'.strip():<24} {self.pixels[value]:>12} {share:>7.1%}  "
                         + "#" * round(share * HISTOGRAM_BAR))
        return lines


def findings(statistics, num_classes, class_names=None):
    """(problems as (kind, detail), warnings, fixes) of the labels counted in ``statistics``."""
    if not statistics.labels:
        return [], [], []
    pixels, ignore_index = statistics.pixels, statistics.ignore_index
    total = sum(pixels.values())
    classes = sorted(value for value in pixels if value != ignore_index)
    problems, warnings, fixes = [], [], []
    ignore_outside = not 0 <= ignore_index <= num_classes  # else 0 or N are ignored, not mistakes
    if ignore_outside and num_classes >= 2 and ignore_index in pixels and set(classes) <= {0}:
        share = pixels[ignore_index] / total
        problems.append((FOREGROUND_AS_IGNORE, (
            f"the labels hold only 0 and {ignore_index} ({ignore_index} on {share:.1%} of the pixels, in "
            f"{statistics.labels_with_ignore} of {statistics.labels} labels, e.g. "
            f"{', '.join(statistics.ignore_examples)}): {ignore_index} is the ignore index, so those pixels "
            f"are never learned and the model sees class 0 only; is {ignore_index} your foreground?")))
        fixes.append(f"binary masks to 0/1: {statistics.prepare_command('binary')}")
    elif ignore_outside and num_classes >= 2 and classes == list(range(1, num_classes + 1)):
        problems.append((NUMBERED_FROM_ONE, (
            f"class 0 never occurs while values 1..{num_classes} all do: PaddleSeg's classes are "
            f"0..{num_classes - 1}, so {num_classes} is out of range; are your classes numbered from 1?")))
        fixes.append(f"renumber the classes from 0: {statistics.prepare_command()}")
    if problems:
        return problems, warnings, fixes

    def named(value):
        name = class_names[value] if class_names and value < len(class_names) else None
        return f"{value} ({name})" if name else str(value)

    counts = [pixels[value] for value in range(num_classes)]
    absent = [value for value in range(num_classes) if not counts[value]]
    if absent:
        warning = (f"classes never occur in the {statistics.labels} labels read: "
                   f"{', '.join(map(named, absent))}; the model cannot learn them")
        if absent == [0] and classes == list(range(1, num_classes)):
            warning += (f"; are your classes numbered from 1 ({statistics.prepare_command()} renumbers "
                        "them from 0)?")
        warnings.append(warning)
    present = [value for value in range(num_classes) if counts[value]]
    if len(present) >= 2:
        most, rarest = max(present, key=counts.__getitem__), min(present, key=counts.__getitem__)
        ratio = counts[most] / counts[rarest]
        if ratio >= IMBALANCE_RATIO:
            weights = class_weights(counts)
            warnings.append(
                f"strong class imbalance: class {named(most)} has {counts[most] / total:.2%} of the pixels, "
                f"class {named(rarest)} {counts[rarest] / total:.2%} ({ratio:.0f} times fewer); the "
                f"generated configs' OHEM loss already favours hard pixels; or weigh classes with "
                f"CrossEntropyLoss weight: {weights} (median frequency)")
    return problems, warnings, fixes


def value_counts(label):
    """(values, pixel counts) of an integer label array, as two lists."""
    if label.dtype.kind == "u" or label.min(initial=0) >= 0:
        counts = np.bincount(label.ravel().astype(np.int64))
        values = np.flatnonzero(counts)
        return values.tolist(), counts[values].tolist()
    values, counts = np.unique(label, return_counts=True)
    return values.tolist(), counts.tolist()


def _common_folder(paths):
    folder = os.path.commonpath([os.path.abspath(path) for path in paths])
    return os.path.dirname(folder) if os.path.isfile(folder) else folder
