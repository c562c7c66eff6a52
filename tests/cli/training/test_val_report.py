"""``paddleseg val --save_dir`` and ``train --do_eval``: the report agrees with what PaddleSeg prints
and logs, for every evaluation of a training and with the test-time options."""
import csv
import json
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from toy_training import TOY_CONFIG, read_images, read_scalars, toy_opts

REPORT_FILES = ["confusion_matrix.png", "evaluate_result.json", "per_class_iou.png", "per_image.csv", "worst_images"]


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("toy"))
    make_toy_dataset(root, num_train=4, num_val=3, size=(128, 64))
    return root


def _printed(output):
    """(mIoU, class IoUs) from PaddleSeg's [EVAL] lines."""
    miou = float(re.search(r"\[EVAL\] #Images: \d+ mIoU: ([\d.]+)", output).group(1))
    class_iou = re.search(r"\[EVAL\] Class IoU: \n\[([^\]]*)\]", output).group(1)
    return miou, [float(value) for value in class_iou.split()]


def _report(directory):
    with open(os.path.join(directory, "evaluate_result.json")) as file:
        return json.load(file)


def _non_ignored_pixels(root):
    labels = [cv2.imread(os.path.join(root, line.split()[1]), cv2.IMREAD_UNCHANGED)
              for line in open(os.path.join(root, "val.txt"))]
    return sum(int(np.count_nonzero(label != 255)) for label in labels)


@pytest.mark.parametrize("test_time", [[], ["--aug_eval", "--flip_horizontal", "--is_slide", "--crop_size", "64",
                                             "64", "--stride", "48", "48"]], ids=["plain", "flip_slide"])
def test_val_writes_a_report_that_agrees_with_the_printed_numbers(toy_root, tmp_path, capsys, test_time):
    assert main(["val", "--config", TOY_CONFIG, "--device", "cpu", "--save_dir", str(tmp_path), "--worst_k", "2",
                 *test_time, "--opts", *toy_opts(toy_root)]) == 0
    miou, class_iou = _printed(capsys.readouterr().out)
    report = _report(tmp_path)
    assert sorted(os.listdir(tmp_path)) == REPORT_FILES and len(os.listdir(tmp_path / "worst_images")) == 2
    assert round(report["mIoU"], 4) == miou and [round(c["iou"], 4) for c in report["classes"]] == class_iou
    counts = np.array(report["confusion_matrix"]["counts"])
    assert counts.sum() == _non_ignored_pixels(toy_root)
    intersect, union = np.diag(counts), counts.sum(0) + counts.sum(1) - np.diag(counts)
    assert np.round(np.divide(intersect, union, out=np.zeros(len(counts)), where=union > 0), 4).tolist() == class_iou
    assert report["run"]["evaluate_options"].get("is_slide", False) == bool(test_time)


def test_train_writes_a_report_for_every_evaluation_the_ema_and_the_best(toy_root, tmp_path):
    save_dir = tmp_path / "run"
    assert main(["train", "--config", TOY_CONFIG, "--save_dir", str(save_dir), "--device", "cpu", "--seed", "0",
                 "--iters", "3", "--save_interval", "2", "--do_eval", "--use_vdl", "--use_ema", "--log_iters", "1",
                 "--opts", *toy_opts(toy_root, batch_size=2)]) == 0
    assert sorted(os.listdir(save_dir / "eval")) == ["best", "iter_2", "iter_3", "vdl"]
    reports = {step: _report(save_dir / "eval" / f"iter_{step}") for step in (2, 3)}
    logged = read_scalars(str(save_dir), "Evaluate/mIoU")
    for step, report in reports.items():
        assert report["mIoU"] == pytest.approx(logged[step], abs=1e-6) and report["run"]["iteration"] == step
        assert report["run"]["weights"] == str(save_dir / f"iter_{step}" / "model.pdparams")
    ema = _report(save_dir / "eval" / "iter_3" / "ema")
    assert ema["mIoU"] == pytest.approx(read_scalars(str(save_dir), "Evaluate/Ema_mIoU")[3], abs=1e-6)
    assert ema["run"]["weights"] == str(save_dir / "iter_3" / "ema_model.pdparams")
    best = max(reports, key=lambda step: (reports[step]["mIoU"], -step))
    assert _report(save_dir / "eval" / "best") == reports[best]

    matrices = read_images(str(save_dir / "eval" / "vdl"), "Evaluate/confusion_matrix")
    assert sorted(matrices) == [2, 3]
    assert np.array_equal(matrices[3], cv2.cvtColor(cv2.imread(str(save_dir / "eval" / "iter_3" /
                                                                   "confusion_matrix.png")), cv2.COLOR_BGR2RGB))
    overlays = read_images(str(save_dir / "eval" / "vdl"), "Evaluate/prediction_toyville_000000_000019_leftImg8bit")
    assert sorted(overlays) == [2, 3] and overlays[2].shape == (64, 256, 3)


@pytest.mark.slow
def test_two_processes_report_every_image_once(toy_root, tmp_path):
    """Three images over two processes: evaluate pads one process's share; the report leaves the
    padding out as evaluate does, and agrees with the first process's printed numbers."""
    command = os.path.join(os.path.dirname(sys.executable), "paddleseg")
    result = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
         str(tmp_path / "log"), command, "val", "--config", TOY_CONFIG, "--device", "cpu",
         "--save_dir", str(tmp_path / "report"), "--opts", *toy_opts(toy_root)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    miou, class_iou = _printed((tmp_path / "log" / "workerlog.0").read_text())
    report = _report(tmp_path / "report")
    assert round(report["mIoU"], 4) == miou and [round(c["iou"], 4) for c in report["classes"]] == class_iou
    assert np.array(report["confusion_matrix"]["counts"]).sum() == _non_ignored_pixels(toy_root)
    with open(tmp_path / "report" / "per_image.csv") as file:
        assert [int(row["index"]) for row in csv.DictReader(file)] == [0, 1, 2]
