"""The confusion matrix of one evaluation, and PaddleSeg's metric inputs read from it.

Rows are ground-truth classes, columns predicted classes; ignored pixels are not counted. Its
diagonal, column sums and row sums are exactly the intersect, prediction and label areas that
PaddleSeg's ``metrics.calculate_area`` sums up, so PaddleSeg's own metric functions apply to it.
"""
import numpy as np


def confusion_matrix(pred, label, num_classes, ignore_index):
    """(num_classes, num_classes) int64 counts of (ground truth, prediction) pixel pairs.

    Args:
        pred, label: integer arrays of the same shape.
    """
    pred, label = np.asarray(pred, np.int64).ravel(), np.asarray(label, np.int64).ravel()
    counted = (label != ignore_index) & (label >= 0) & (label < num_classes)
    pred, label = pred[counted], label[counted]
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f"predicted class ids must lie in [0, {num_classes}), got {pred.min()}..{pred.max()}")
    pairs = label * num_classes + pred
    return np.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def areas(matrix):
    """PaddleSeg's (intersect, pred, label) area tensors for a confusion matrix."""
    import paddle
    matrix = np.asarray(matrix, np.int64)
    return tuple(paddle.to_tensor(area) for area in (np.diag(matrix).copy(), matrix.sum(0), matrix.sum(1)))


def image_scores(matrix):
    """(mIoU over the classes present in the ground truth or the prediction, pixel accuracy) of one
    image's confusion matrix; NaN for an image without a counted pixel."""
    matrix = np.asarray(matrix, np.float64)
    intersect = np.diag(matrix)
    union = matrix.sum(0) + matrix.sum(1) - intersect
    total = matrix.sum()
    if total == 0:
        return float("nan"), float("nan")
    present = union > 0
    return float(np.mean(intersect[present] / union[present])), float(intersect.sum() / total)


def mean_iou(predictions, labels, num_classes, ignore_index):
    """PaddleSeg's mIoU of label maps over images of any sizes (their confusion matrices summed)."""
    from paddleseg.utils import metrics

    total = np.zeros((num_classes, num_classes), np.int64)
    for prediction, label in zip(predictions, labels):
        if np.shape(prediction) != np.shape(label):
            raise ValueError(f"a label of shape {np.shape(label)} does not match its prediction {np.shape(prediction)}")
        total += confusion_matrix(prediction, label, num_classes, ignore_index)
    return float(metrics.mean_iou(*areas(total))[1])
