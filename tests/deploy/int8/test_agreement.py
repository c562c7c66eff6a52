"""Pixel agreement with fp32: the share of equal labels, averaged over images, on known arrays."""
import numpy as np
import pytest

from paddleseg_liteseg.deploy.int8.agreement import MAX_MIOU_DROP, MIN_AGREEMENT, pixel_agreement


def test_equal_label_maps_agree_fully_and_disjoint_ones_not_at_all():
    labels = [np.arange(12).reshape(3, 4), np.zeros((2, 5), dtype=np.uint8)]
    assert pixel_agreement(labels, [label.copy() for label in labels]) == 1.0
    assert pixel_agreement(labels, [label + 1 for label in labels]) == 0.0


def test_the_share_of_equal_pixels():
    expected = np.zeros((4, 4), dtype=np.int64)
    predicted = expected.copy()
    predicted[0, :3] = 7  # 3 of 16 pixels differ
    assert pixel_agreement([predicted], [expected]) == pytest.approx(13 / 16)


def test_each_image_counts_alike_whatever_its_size():
    small_equal = np.ones((1, 2))
    large = np.zeros((2, 4))
    large_predicted = large.copy()
    large_predicted[1] = 1  # half of the large image differs
    agreement = pixel_agreement([small_equal, large_predicted], [small_equal, large])
    assert agreement == pytest.approx((1.0 + 0.5) / 2)  # not (2 + 4) / 10, the pooled share


def test_a_batch_axis_of_one_is_not_a_difference():
    labels = np.random.default_rng(0).integers(0, 5, (6, 7))
    assert pixel_agreement([labels[np.newaxis]], [labels]) == 1.0


@pytest.mark.parametrize("predicted, expected", [
    ([], []),
    ([np.zeros((2, 2))], []),
    ([np.zeros((2, 2))] * 2, [np.zeros((2, 2))]),  # zip would drop the second image
    ([np.zeros((2, 3))], [np.zeros((3, 2))]),
    ([np.zeros((1, 4))], [np.zeros((4, 4))]),  # would broadcast
])
def test_maps_not_in_pairs_of_one_shape_are_refused(predicted, expected):
    with pytest.raises(ValueError, match="pixel_agreement"):
        pixel_agreement(predicted, expected)


def test_the_limits_are_shares_and_fractions():
    assert 0 < MIN_AGREEMENT <= 1 and 0 <= MAX_MIOU_DROP < 1  # fractions of 1, not percentages
