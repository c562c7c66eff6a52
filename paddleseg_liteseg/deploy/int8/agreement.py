"""How close a runtime's labels must stay to fp32's to be used: one limit for the int8 file choice,
``tune`` and the command line's defaults, and the one way agreement is measured."""
import numpy as np

MIN_AGREEMENT = 0.99  # share of pixels whose label equals fp32's
MAX_MIOU_DROP = 0.005  # mIoU (0..1) a runtime may lose against fp32, where labels are given (the CLI: 0.5 points)


def pixel_agreement(predicted, expected):
    """The mean over image pairs of the share of pixels whose labels are equal.

    Each image counts alike, whatever its size. Label maps are compared as they are, less axes of
    length 1 (a runtime's (1, H, W) against another's (H, W)).

    Args:
        predicted, expected (list[np.ndarray]): Label maps, pair by pair.
    Raises:
        ValueError: No pairs, lists of different lengths, or a pair of maps of different shapes:
            a mistake that would otherwise be averaged away.
    """
    if len(predicted) != len(expected) or not predicted:
        raise ValueError(f"pixel_agreement needs label maps in pairs, got {len(predicted)} and {len(expected)}")
    shares = []
    for index, (a, b) in enumerate(zip(predicted, expected)):
        a, b = np.squeeze(a), np.squeeze(b)
        if a.shape != b.shape:
            raise ValueError(f"pixel_agreement: pair {index} has label maps of shapes {a.shape} and {b.shape}")
        shares.append((a == b).mean())
    return float(np.mean(shares))
