"""The confusion matrix against counting by hand and against PaddleSeg's calculate_area."""
import numpy as np
import paddle
import pytest
from paddleseg.utils import metrics

from paddleseg_liteseg.evaluation.confusion import areas, confusion_matrix, image_scores, mean_iou


def test_counts_each_ground_truth_and_prediction_pair_and_skips_ignored_pixels():
    label = np.array([[0, 0, 1], [2, 255, 1]])
    pred = np.array([[0, 1, 1], [0, 2, 2]])
    expected = np.zeros((3, 3), np.int64)
    for truth, guess in [(0, 0), (0, 1), (1, 1), (2, 0), (1, 2)]:
        expected[truth, guess] += 1
    assert np.array_equal(confusion_matrix(pred, label, 3, 255), expected)


def test_its_diagonal_and_sums_are_paddlesegs_areas():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 4, (1, 1, 20, 30))
    label[0, 0, :3] = 255
    pred = rng.integers(0, 4, (1, 1, 20, 30))
    expected = metrics.calculate_area(paddle.to_tensor(pred, "int32"), paddle.to_tensor(label), 4, ignore_index=255)
    matrix = confusion_matrix(pred, label, 4, 255)
    for ours, theirs in zip(areas(matrix), expected):
        assert np.array_equal(ours.numpy(), theirs.numpy())


def test_a_prediction_outside_the_classes_is_refused():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        confusion_matrix(np.array([3]), np.array([0]), 3, 255)


def test_image_scores_average_the_classes_present():
    # class 0: 1 of 2 pixels right and nothing else predicted as 0 -> IoU 1/2; class 1: IoU 2/3;
    # class 2 neither in the label nor predicted: left out.
    matrix = np.array([[1, 1, 0], [0, 2, 0], [0, 0, 0]])
    miou, accuracy = image_scores(matrix)
    assert miou == pytest.approx((1 / 2 + 2 / 3) / 2) and accuracy == pytest.approx(3 / 4)
    assert all(np.isnan(image_scores(np.zeros((3, 3)))))


def test_mean_iou_over_images_of_two_sizes_is_paddlesegs_over_their_summed_areas():
    rng = np.random.default_rng(1)
    labels = [rng.integers(0, 3, (8, 12)), rng.integers(0, 3, (5, 7))]
    preds = [rng.integers(0, 3, (8, 12)), rng.integers(0, 3, (5, 7))]
    labels[1][0] = 255
    found = [metrics.calculate_area(paddle.to_tensor(p), paddle.to_tensor(l), 3, ignore_index=255)
             for p, l in zip(preds, labels)]
    summed = [sum(area[i] for area in found) for i in range(3)]
    assert mean_iou(preds, labels, 3, 255) == pytest.approx(metrics.mean_iou(*summed)[1])
    assert mean_iou(labels, labels, 3, 255) == 1.0
    with pytest.raises(ValueError, match=r"\(5, 7\) does not match"):
        mean_iou(preds[:1], labels[1:], 3, 255)
