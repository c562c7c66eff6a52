"""Evaluation pictures in VisualDL: the confusion matrix and fixed val images at every evaluation.

VisualDL shows one log file per directory (the newest), so these go to their own run directory
next to PaddleSeg's scalars log: ``visualdl --logdir SAVE_DIR`` shows both.
"""
import os

import cv2

from . import panels
from .observer import image_stem
from .report import CONFUSION_MATRIX_FILE

CONFUSION_MATRIX_TAG = "Evaluate/confusion_matrix"
PREVIEW_TAG = "Evaluate/prediction_{stem}"  # ground truth | prediction, over the image


class EvaluationLog:
    """A VisualDL log in ``logdir`` that takes one evaluation's pictures per step."""

    def __init__(self, logdir):
        from visualdl import LogWriter
        self.writer = LogWriter(logdir=logdir)

    def add(self, evaluation, report_dir, colours, step):
        """Log the confusion matrix written to ``report_dir`` and the record's preview images."""
        matrix = cv2.imread(os.path.join(report_dir, CONFUSION_MATRIX_FILE), cv2.IMREAD_COLOR)
        self.writer.add_image(CONFUSION_MATRIX_TAG, cv2.cvtColor(matrix, cv2.COLOR_BGR2RGB), step)
        for kept in evaluation.record.previews:
            self.writer.add_image(PREVIEW_TAG.format(stem=image_stem(kept)), panels.overlay_panel(kept, colours),
                                  step)
        self.writer.flush()

    def close(self):
        self.writer.close()
