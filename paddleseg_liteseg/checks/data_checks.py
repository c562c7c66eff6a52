"""Find the files of a PaddleSeg dataset that would crash or quietly spoil training, before it starts.

Each image is read as PaddleSeg reads it (OpenCV, with the dataset's colour flag) and each label as
PaddleSeg reads it (PIL), and checked for: a missing file, a file that cannot be decoded (empty,
truncated, not an image), a label with several channels, an image and label of different sizes, and
label values outside [0, num_classes) other than the ignore index; the labels' pixels are summed
for the mistakes only the whole dataset shows (``label_statistics``: 0/255 masks, classes numbered
from 1, classes never seen, imbalance). Decoding is the cost, so
``max_samples`` checks a random subset (the cheap check at the start of training) and threads share
the work (OpenCV and PIL release the GIL while decoding).

OpenCV decodes a truncated JPEG with a grey lower part (and a "Premature end of JPEG file" warning)
rather than failing, as training would read it too; such files are not reported.
"""
import os
import random
from collections import Counter, defaultdict, namedtuple
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from ..datasets.class_info import class_names as dataset_class_names
from .label_statistics import LabelStatistics, findings, value_counts

MISSING_IMAGE = "missing image"
MISSING_LABEL = "missing label"
UNREADABLE_IMAGE = "unreadable image"
UNREADABLE_LABEL = "unreadable label"
MULTICHANNEL_LABEL = "label with several channels"
SIZE_MISMATCH = "image/label size mismatch"
LABEL_OUT_OF_RANGE = "label values out of range"
PROBLEM_KINDS = (MISSING_IMAGE, MISSING_LABEL, UNREADABLE_IMAGE, UNREADABLE_LABEL, MULTICHANNEL_LABEL,
                 SIZE_MISMATCH, LABEL_OUT_OF_RANGE)


class Problem(namedtuple("Problem", "kind path detail")):
    """One problem of one file: its kind (one of PROBLEM_KINDS), the file, and what is wrong."""

    def __str__(self):
        return f"{self.path}: {self.kind}: {self.detail}"


def check_dataset(dataset, num_classes=None, ignore_index=None, max_samples=None, sample_seed=0,
                  workers=None, max_examples=5, progress=False, class_names=None):
    """Read the images and labels of a PaddleSeg dataset's ``file_list`` and report what is wrong.

    Args:
        dataset: A PaddleSeg dataset (``file_list`` of [image path, label path or None]).
        num_classes (int, optional): Valid labels are 0..num_classes-1; default ``dataset.num_classes``.
        ignore_index (int, optional): The one other valid label value; default ``dataset.ignore_index``
            (255 when the dataset has none).
        max_samples (int, optional): Check this many samples drawn at random (seeded by
            ``sample_seed``) instead of all.
        workers (int, optional): Reading threads; default the number of CPUs.
        max_examples (int): Offending files kept per problem kind.
        progress (bool): Show a progress bar.
        class_names (list, optional): Names of the classes, for the messages; default: what the
            dataset says (``datasets.class_info``).

    Returns:
        DataReport
    """
    num_classes = dataset.num_classes if num_classes is None else num_classes
    ignore_index = dataset_ignore_index(dataset) if ignore_index is None else ignore_index
    read_flag = image_read_flag(dataset)
    samples = list(dataset.file_list)
    if max_samples is not None and max_samples < len(samples):
        indices = sorted(random.Random(sample_seed).sample(range(len(samples)), max_samples))
        samples = [samples[i] for i in indices]

    def check(sample):
        return _check_sample(*sample, num_classes=num_classes, ignore_index=ignore_index, read_flag=read_flag)

    report = DataReport(total=len(dataset.file_list), max_examples=max_examples, num_classes=num_classes,
                        ignore_index=ignore_index)
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as executor:
        for sample, (problems, counts) in tqdm(zip(samples, executor.map(check, samples)), total=len(samples),
                                               desc="check-data", disable=not progress):
            report.add(problems)
            if sample[1] is not None:
                report.statistics.add(*sample, *(counts or (None, None)))
    report.conclude(dataset_class_names(dataset) if class_names is None else class_names)
    return report


def sample_problems(image_path, label_path, num_classes, ignore_index=255, read_flag=cv2.IMREAD_COLOR):
    """The problems of one sample, a list of ``Problem``; ``label_path`` is None for unlabelled ones."""
    return _check_sample(image_path, label_path, num_classes, ignore_index, read_flag)[0]


def _check_sample(image_path, label_path, num_classes, ignore_index, read_flag):
    """(problems, (values, pixel counts) of a usable label or None)."""
    image, problems = _read_image(image_path, read_flag)
    if label_path is None:
        return problems, None
    label, palette_png, label_problems = _read_label(label_path)
    problems += label_problems
    if label is None:
        return problems, None
    if label.ndim != 2:
        grey = label.shape[2] >= 3 and (label[..., :3] == label[..., :1]).all()
        what = ("all equal: a grey mask saved as colour" if grey else
                "of colours: a colour mask, whose colours are not class ids")
        problems.append(Problem(MULTICHANNEL_LABEL, label_path,
                                f"{label.shape[2]} channels {what}; a label holds one class id a pixel"))
        return problems, None
    if image is not None and image.shape[:2] != label.shape:
        problems.append(Problem(SIZE_MISMATCH, label_path,
                                f"label is {_size(label)}, its image {image_path} is {_size(image)} "
                                "(width x height)"))
    value_problems = label_value_problems(label, label_path, num_classes, ignore_index)
    if value_problems and palette_png:
        kind, path, detail = value_problems[0]
        value_problems = [Problem(kind, path, f"{detail}; a palette PNG: are its indices class ids?")]
    return problems + value_problems, value_counts(label)


def dataset_ignore_index(dataset):
    """The label value a PaddleSeg dataset ignores: its ``ignore_index``, else PaddleSeg's 255."""
    return getattr(dataset, "ignore_index", 255)


def image_read_flag(dataset):
    """The OpenCV flag PaddleSeg's ``Compose`` reads the dataset's images with (colour, or grey when
    its ``img_channels`` is 1)."""
    return getattr(getattr(dataset, "transforms", None), "read_flag", cv2.IMREAD_COLOR)


def label_value_problems(label, label_path, num_classes, ignore_index):
    """[a LABEL_OUT_OF_RANGE ``Problem``] when ``label`` has values outside [0, num_classes) other
    than ``ignore_index``, else []. Cheap enough to run on every sample while training."""
    bad = ((label < 0) | (label >= num_classes)) & (label != ignore_index)
    if not bad.any():
        return []
    values = np.unique(label[bad]).tolist()
    return [Problem(LABEL_OUT_OF_RANGE, label_path,
                    f"values {_short_list(values)} in {int(bad.sum())} pixels; valid are "
                    f"0..{num_classes - 1} and {ignore_index} (ignored)")]


class DataReport:
    """What ``check_dataset`` found: problems counted by kind, with the first files of each kind.

    Attributes:
        total (int): Samples in the dataset.
        checked (int): Samples read.
        bad_samples (int): Checked samples with at least one problem.
        counts (Counter): kind -> number of problems.
        examples (dict): kind -> the first ``max_examples`` ``Problem``s, in file-list order.
    """

    def __init__(self, total, max_examples=5, num_classes=None, ignore_index=255):
        self.total = total
        self.num_classes = num_classes
        self.statistics = LabelStatistics(ignore_index)
        self.dataset_problems = []
        self.warnings = []
        self.fixes = []
        self.class_names = None
        self.checked = 0
        self.bad_samples = 0
        self.counts = Counter()
        self.examples = defaultdict(list)
        self.max_examples = max_examples

    def add(self, problems):
        """Count one checked sample and its problems."""
        self.checked += 1
        self.bad_samples += bool(problems)
        for problem in problems:
            self.counts[problem.kind] += 1
            if len(self.examples[problem.kind]) < self.max_examples:
                self.examples[problem.kind].append(problem)

    def conclude(self, class_names=None):
        """Add what only all the labels read show: dataset problems, warnings, and the commands that fix them."""
        self.class_names = class_names
        self.dataset_problems, self.warnings, self.fixes = findings(self.statistics, self.num_classes, class_names)
        colours = any("of colours" in problem.detail for problem in self.examples.get(MULTICHANNEL_LABEL, ())) or \
            any("palette PNG" in problem.detail for problem in self.examples.get(LABEL_OUT_OF_RANGE, ()))
        if colours:
            self.fixes.append("colour or palette masks to class ids: " + self.statistics.prepare_command("rgb"))
        elif self.counts[MULTICHANNEL_LABEL]:
            self.fixes.append("grey masks saved as colour to one channel: " + self.statistics.prepare_command())

    def histogram(self):
        """Lines of the per-class pixel table of the labels read."""
        return self.statistics.histogram(self.num_classes, self.class_names)

    @property
    def ok(self):
        """Whether the dataset has samples, none of those checked has a problem, and their labels together
        show none (warnings are not problems)."""
        return self.total > 0 and not self.counts and not self.dataset_problems

    def __str__(self):
        if self.total == 0:
            return "the file list names no samples"
        scope = f"all {self.total}" if self.checked == self.total else f"{self.checked} of {self.total}"
        scope = f"checked {scope} sample{'' if self.total == 1 else 's'}"
        if not self.counts and not self.dataset_problems:
            lines = [f"{scope}: no problems"]
        elif not self.counts:
            lines = [f"{scope}: {_plural(len(self.dataset_problems), 'problem')} in the labels as a whole"]
        else:
            lines = [f"{scope}: {_plural(sum(self.counts.values()), 'problem')} in {_plural(self.bad_samples, 'sample')}",
                     f"{'problem':<28} {'count':>6}  first files"]
        for kind in PROBLEM_KINDS:
            for i, problem in enumerate(self.examples.get(kind, ())):
                first = f"{kind:<28} {self.counts[kind]:>6}" if i == 0 else " " * 35
                lines.append(f"{first}  {problem.path}: {problem.detail}")
        lines += [f"problem: {kind}: {detail}" for kind, detail in self.dataset_problems]
        lines += [f"warning: {warning}" for warning in self.warnings]
        lines += [f"fix: {fix}" for fix in self.fixes]
        return "\n".join(lines)


def _read_image(path, read_flag):
    """(image or None, [problems])."""
    problem = _file_problem(path, MISSING_IMAGE, UNREADABLE_IMAGE)
    if problem:
        return None, [problem]
    image = cv2.imread(path, read_flag)
    if image is None:
        return None, [Problem(UNREADABLE_IMAGE, path, "OpenCV cannot decode it (truncated, corrupt or "
                                                      "not an image)")]
    return image, []


def _read_label(path):
    """(label array or None, whether it is a palette PNG, [problems])."""
    problem = _file_problem(path, MISSING_LABEL, UNREADABLE_LABEL)
    if problem:
        return None, False, [problem]
    try:
        with Image.open(path) as label:
            return np.asarray(label), label.mode == "P", []
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError... for broken files
        return None, False, [Problem(UNREADABLE_LABEL, path, f"PIL cannot decode it ({error})")]


def _file_problem(path, missing_kind, unreadable_kind):
    if not os.path.isfile(path):
        return Problem(missing_kind, path, "no such file")
    if os.path.getsize(path) == 0:
        return Problem(unreadable_kind, path, "empty file (0 bytes)")
    return None


def _size(array):
    return f"{array.shape[1]}x{array.shape[0]}"


def _short_list(values, limit=10):
    return str(values) if len(values) <= limit else f"[{', '.join(map(str, values[:limit]))}, ...]"


def _plural(count, noun):
    return f"{count} {noun}{'' if count == 1 else 's'}"
