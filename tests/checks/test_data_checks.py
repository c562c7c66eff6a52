"""check_dataset: it finds exactly the broken files of a dataset, counted by kind and named."""
import os
import tempfile
from collections import Counter
from types import SimpleNamespace

import cv2
import numpy as np
from hypothesis import given, settings, strategies as st
from paddleseg.datasets import Dataset
from paddleseg.transforms import Normalize
from PIL import Image

from paddleseg_liteseg.checks import check_dataset
from paddleseg_liteseg.checks import data_checks as checks
from paddleseg_liteseg.datasets.toy import make_toy_dataset

# What each injected fault should be reported as (None: a clean sample).
FAULTS = {None: None, "value": checks.LABEL_OUT_OF_RANGE, "size": checks.SIZE_MISMATCH,
          "channels": checks.MULTICHANNEL_LABEL, "no image": checks.MISSING_IMAGE,
          "no label": checks.MISSING_LABEL, "empty label": checks.UNREADABLE_LABEL,
          "garbage image": checks.UNREADABLE_IMAGE}

samples = st.fixed_dictionaries({
    "width": st.integers(1, 24), "height": st.integers(1, 24),
    "fault": st.sampled_from(list(FAULTS)), "sixteen_bit": st.booleans(), "seed": st.integers(0, 2**16)})


def write_sample(folder, index, sample, num_classes, ignore_index):
    """Write one image/label pair with ``sample["fault"]`` injected; returns (paths, offending path)."""
    rng = np.random.default_rng(sample["seed"])
    height, width = sample["height"], sample["width"]
    image_path, label_path = (os.path.join(folder, f"{kind}_{index}.png") for kind in ("image", "label"))
    fault = sample["fault"]
    dtype = np.uint16 if sample["sixteen_bit"] else np.uint8
    label = rng.integers(0, num_classes, (height, width)).astype(dtype)
    label[rng.random((height, width)) < 0.2] = ignore_index  # ignored pixels are fine
    if fault == "value":
        bad = num_classes + rng.integers(0, (1000 if dtype == np.uint16 else 250) - num_classes)
        label[rng.integers(height), rng.integers(width)] = bad if bad != ignore_index else bad + 1
    if fault == "size":
        label = np.concatenate([label, label[:1]])
    if fault == "channels":
        label = np.stack([label.astype(np.uint8)] * 3, axis=-1)
    cv2.imwrite(image_path, rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    Image.fromarray(label).save(label_path)
    if fault == "garbage image":
        with open(image_path, "wb") as f:
            f.write(b"not an image at all")
    if fault == "no image":
        os.remove(image_path)
    if fault == "no label":
        os.remove(label_path)
    if fault == "empty label":
        open(label_path, "wb").close()
    offending = image_path if fault in ("no image", "garbage image") else label_path
    return [image_path, label_path], offending


@settings(max_examples=30, deadline=None)
@given(samples=st.lists(samples, min_size=1, max_size=6), num_classes=st.integers(1, 20),
       ignore_index=st.sampled_from([255, 0, 19]))
def test_the_report_holds_exactly_the_injected_problems(samples, num_classes, ignore_index):
    with tempfile.TemporaryDirectory() as folder:
        written = [write_sample(folder, i, sample, num_classes, ignore_index) for i, sample in enumerate(samples)]
        dataset = SimpleNamespace(file_list=[paths for paths, _ in written], num_classes=num_classes,
                                  ignore_index=ignore_index)
        report = check_dataset(dataset, workers=2)
    expected = [(FAULTS[sample["fault"]], offending) for sample, (_, offending) in zip(samples, written)
                if sample["fault"]]
    assert report.counts == Counter(kind for kind, _ in expected)
    assert [(p.kind, p.path) for kind in checks.PROBLEM_KINDS for p in report.examples.get(kind, [])] == \
        sorted(expected, key=lambda item: checks.PROBLEM_KINDS.index(item[0]))
    assert report.ok == (not expected and not report.dataset_problems)  # the labels as a whole: test_label_mistakes
    assert report.checked == report.total == len(samples)
    assert report.bad_samples == len(expected)


@settings(max_examples=20, deadline=None)
@given(label=st.lists(st.integers(-3, 300), min_size=1, max_size=64), num_classes=st.integers(1, 30),
       ignore_index=st.integers(0, 300))
def test_out_of_range_values_are_those_outside_the_classes_but_the_ignore_index(label, num_classes, ignore_index):
    bad = [value for value in label if not 0 <= value < num_classes and value != ignore_index]
    problems = checks.label_value_problems(np.array(label, np.int32), "label.png", num_classes, ignore_index)
    if not bad:
        assert problems == []
        return
    values = sorted(set(bad))
    shown = str(values) if len(values) <= 10 else f"[{', '.join(map(str, values[:10]))}, ...]"
    assert problems == [checks.Problem(checks.LABEL_OUT_OF_RANGE, "label.png",
                                       f"values {shown} in {len(bad)} pixels; valid are 0..{num_classes - 1} "
                                       f"and {ignore_index} (ignored)")]


def test_the_report_reads_as_a_table_with_the_first_files_of_each_kind(tmp_path):
    written = [write_sample(str(tmp_path), i, {"width": 4, "height": 4, "fault": "value", "sixteen_bit": False,
                                               "seed": i}, 3, 255) for i in range(7)]
    dataset = SimpleNamespace(file_list=[paths for paths, _ in written], num_classes=3, ignore_index=255)
    report = check_dataset(dataset, max_examples=2)
    lines = str(report).splitlines()
    assert lines[0] == "checked all 7 samples: 7 problems in 7 samples"
    assert lines[1].split() == ["problem", "count", "first", "files"]
    assert lines[2].split()[:7] == ["label", "values", "out", "of", "range", "7", f"{written[0][1]}:"]
    assert lines[2].endswith("valid are 0..2 and 255 (ignored)")
    assert lines[3].split()[0] == f"{written[1][1]}:"  # the next file, under the first
    assert len(lines) == 4


def test_max_samples_reads_a_seeded_random_subset(tmp_path):
    written = [write_sample(str(tmp_path), i, {"width": 2, "height": 2, "fault": "no image" if i == 3 else None,
                                               "sixteen_bit": False, "seed": i}, 3, 255) for i in range(20)]
    dataset = SimpleNamespace(file_list=[paths for paths, _ in written], num_classes=3, ignore_index=255)
    subset = check_dataset(dataset, max_samples=5, sample_seed=1)
    assert (subset.checked, subset.total) == (5, 20)
    assert str(subset).startswith("checked 5 of 20 samples")
    assert check_dataset(dataset, max_samples=5, sample_seed=1).counts == subset.counts
    assert check_dataset(dataset, max_samples=50).counts == Counter({checks.MISSING_IMAGE: 1})


def test_an_empty_file_list_is_not_ok():
    report = check_dataset(SimpleNamespace(file_list=[], num_classes=2))
    assert not report.ok and str(report) == "the file list names no samples"


def test_a_paddleseg_dataset_is_read_as_paddleseg_reads_it(tmp_path):
    root = str(tmp_path)
    make_toy_dataset(root, num_train=4, num_val=1, size=(64, 32))
    dataset = Dataset(mode="train", dataset_root=root, transforms=[Normalize()], num_classes=5,
                      train_path=os.path.join(root, "train.txt"))
    assert check_dataset(dataset).ok
    image, label = dataset.file_list[2]
    with open(image, "rb") as f:
        data = f.read()
    with open(image, "wb") as f:
        f.write(data[:len(data) // 2])  # truncated, as by a copy cut short
    grey = Dataset(mode="train", dataset_root=root, transforms=[Normalize()], num_classes=3, img_channels=1,
                   train_path=os.path.join(root, "train.txt"))
    report = check_dataset(grey)  # 3 classes: the toy labels 3 and 4 are now out of range
    assert report.examples[checks.UNREADABLE_IMAGE][0].path == image
    assert report.counts[checks.LABEL_OUT_OF_RANGE] >= 1
    assert str(report).count("OpenCV cannot decode it (truncated, corrupt or not an image)") == 1


def test_unlabelled_samples_only_need_a_readable_image(tmp_path):
    written, _ = write_sample(str(tmp_path), 0, {"width": 3, "height": 3, "fault": None, "sixteen_bit": False,
                                                 "seed": 0}, 2, 255)
    assert check_dataset(SimpleNamespace(file_list=[[written[0], None]], num_classes=2)).ok


def test_one_problem_reads_in_the_singular(tmp_path):
    written, _ = write_sample(str(tmp_path), 0, {"width": 3, "height": 3, "fault": "no label", "sixteen_bit": False,
                                                 "seed": 0}, 2, 255)
    report = check_dataset(SimpleNamespace(file_list=[written], num_classes=2))
    assert str(report).splitlines()[0] == "checked all 1 sample: 1 problem in 1 sample"
