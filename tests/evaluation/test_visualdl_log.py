"""VisualDL gets the confusion matrix and the preview overlays, and reads them back."""
import os

import cv2
import numpy as np

from paddleseg_liteseg.evaluation import evaluate_and_report
from paddleseg_liteseg.evaluation.panels import class_colours, overlay_panel
from paddleseg_liteseg.evaluation.visualdl_log import CONFUSION_MATRIX_TAG, EvaluationLog
from toy_training import read_images


def test_each_evaluation_logs_its_pictures(pixel_model, toy_val, tmp_path):
    report_dir, logdir = str(tmp_path / "report"), str(tmp_path / "vdl")
    evaluation = evaluate_and_report(pixel_model, toy_val, report_dir, print_detail=False)
    colours = class_colours(None, 255)
    log = EvaluationLog(logdir)
    for step in (5, 10):
        log.add(evaluation, report_dir, colours, step)
    log.close()
    matrices = read_images(logdir, CONFUSION_MATRIX_TAG)
    written = cv2.cvtColor(cv2.imread(os.path.join(report_dir, "confusion_matrix.png")), cv2.COLOR_BGR2RGB)
    assert sorted(matrices) == [5, 10] and np.array_equal(matrices[10], written)
    kept = evaluation.record.previews[1]
    stem = os.path.splitext(os.path.basename(kept.image))[0]
    overlays = read_images(logdir, f"Evaluate/prediction_{stem}")
    assert sorted(overlays) == [5, 10] and np.array_equal(overlays[5], overlay_panel(kept, colours))
    assert overlays[5].shape == (kept.label.shape[0], 2 * kept.label.shape[1], 3)
