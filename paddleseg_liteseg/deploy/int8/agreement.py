"""How close a runtime's labels must stay to fp32's to be used: one limit for the int8 file choice,
``tune`` and the command line's defaults, and the one way agreement is measured."""
import numpy as np

MIN_AGREEMENT = 0.99  # share of pixels whose label equals fp32's
MAX_MIOU_DROP = 0.005  # mIoU (0..1) a runtime may lose against fp32, where labels are given


def pixel_agreement(predicted, expected):
    """The mean over image pairs of the share of pixels whose labels are equal."""
    return float(np.mean([(a == b).mean() for a, b in zip(predicted, expected)]))
