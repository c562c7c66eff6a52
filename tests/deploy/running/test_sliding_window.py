"""Sliding-window labels are PaddleSeg 2.8's ``slide_inference`` followed by an argmax: the same windows,
the same labels on any image and window, in any batch size; the band of logits does not grow with
the image's height; bad windows and label outputs are refused."""
import numpy as np
import paddle
import pytest
from hypothesis import given, settings, strategies as st

import paddleseg_liteseg  # noqa: F401  (applies the Paddle 3 fixes PaddleSeg needs)
from paddleseg.core.infer import slide_inference
from paddleseg_liteseg.deploy.running.sliding_window import SlideWindow, slide_labels, window_boxes
from paddleseg_liteseg.errors import UserError

TIE = 1e-4  # where the two best averaged logits are this close, float32 and float64 sums may pick either


class BoxModel:
    """A stand-in model: a fixed 1x1 convolution of the window plus tanh of its 3x3 box sum (zero
    outside the window), so that a pixel's logits depend on where the window's border lies and
    averaging overlapping windows matters. Records the batch sizes it is given."""

    def __init__(self, channels, classes, seed=0):
        self.weights = np.random.default_rng(seed).standard_normal((classes, channels)).astype(np.float32)
        self.batch_sizes = []

    def __call__(self, windows):
        self.batch_sizes.append(len(windows))
        logits = np.einsum("kc,nchw->nkhw", self.weights, windows)
        height, width = logits.shape[2:]
        padded = np.pad(logits, ((0, 0), (0, 0), (1, 1), (1, 1)))
        box = sum(padded[:, :, dy:dy + height, dx:dx + width] for dy in range(3) for dx in range(3))
        return logits + np.tanh(box)


def paddleseg_logits(model, image, window):
    """PaddleSeg's averaged logits (classes, H, W) of ``image`` (C, H, W) with ``model`` on numpy."""
    def layer(crop):
        return [paddle.to_tensor(model(crop.numpy()))]

    image = paddle.to_tensor(image[np.newaxis])
    return slide_inference(layer, image, window.crop_size, window.stride).numpy()[0]


def assert_paddleseg_labels(labels, logits):
    """``labels`` are the argmax of PaddleSeg's ``logits`` wherever its two best classes are not tied."""
    best_two = np.sort(logits, axis=0)[-2:]
    decided = best_two[1] - best_two[0] > TIE
    assert labels.dtype == np.uint8 and labels.shape == logits.shape[1:]
    np.testing.assert_array_equal(labels[decided], logits.argmax(axis=0)[decided])


def random_image(channels, height, width, seed=1):
    return np.random.default_rng(seed).standard_normal((channels, height, width)).astype(np.float32)


@st.composite
def windows_and_sizes(draw):
    """A window (crop 1..64, stride 1..crop) and an image of 1..200 pixels a side, at most 13 windows a side."""
    (crop_width, crop_height) = crop_size = (draw(st.integers(1, 64)), draw(st.integers(1, 64)))
    (stride_width, stride_height) = stride = (draw(st.integers(1, crop_width)), draw(st.integers(1, crop_height)))
    height = draw(st.integers(1, min(200, crop_height + 12 * stride_height)))
    width = draw(st.integers(1, min(200, crop_width + 12 * stride_width)))
    return SlideWindow(crop_size, stride), height, width


@settings(max_examples=40, deadline=None)
@given(windows_and_sizes(), st.integers(1, 3), st.integers(2, 5))
def test_labels_are_paddleseg_slide_inference(window_and_size, channels, classes):
    window, height, width = window_and_size
    model, image = BoxModel(channels, classes), random_image(channels, height, width)
    assert_paddleseg_labels(slide_labels(model, image, window), paddleseg_logits(model, image, window))


@settings(max_examples=40, deadline=None)
@given(windows_and_sizes())
def test_window_boxes_are_the_windows_paddleseg_runs(window_and_size):
    """PaddleSeg's crops of an image whose pixels hold their own row and column are the boxes, in order."""
    window, height, width = window_and_size
    rows, columns = np.mgrid[:height, :width].astype(np.float32)
    crops = []

    def record(crop):
        row, column = crop[0]
        crops.append((int(row[0, 0]), int(row[-1, 0]) + 1, int(column[0, 0]), int(column[0, -1]) + 1))
        return np.zeros((1, 1, *crop.shape[2:]), np.float32)

    paddleseg_logits(record, np.stack([rows, columns]), window)
    assert [box for row in window_boxes(height, width, window) for box in row] == crops


@pytest.mark.parametrize("height, width", [(10, 100), (100, 10), (5, 7), (32, 32)])
def test_image_smaller_than_the_window(height, width):
    """Along an axis no longer than the window there is one window, of the image's size."""
    window = SlideWindow((32, 32), (12, 12))
    rows = window_boxes(height, width, window)
    assert (len(rows) == 1) == (height <= 32) and (len(rows[0]) == 1) == (width <= 32)
    assert {(h2 - h1, w2 - w1) for row in rows for h1, h2, w1, w2 in row} == {(min(height, 32), min(width, 32))}
    model, image = BoxModel(3, 4), random_image(3, height, width)
    assert_paddleseg_labels(slide_labels(model, image, window), paddleseg_logits(model, image, window))


def test_batch_size_changes_nothing_but_the_batches():
    """Batches of up to batch_size windows, each within one row of windows."""
    window, image = SlideWindow((24, 20), (10, 7)), random_image(3, 61, 83)
    one, three = BoxModel(3, 5), BoxModel(3, 5)
    np.testing.assert_array_equal(slide_labels(one, image, window, batch_size=1),
                                  slide_labels(three, image, window, batch_size=3))
    rows = window_boxes(61, 83, window)
    assert one.batch_sizes == [1] * sum(len(row) for row in rows)
    assert three.batch_sizes == [len(row[first:first + 3]) for row in rows for first in range(0, len(row), 3)]


def test_band_does_not_grow_with_the_image_height():
    window, classes, width = SlideWindow((32, 32), (20, 20)), 4, 64
    peaks = []
    for height in (300, 1200):
        bands = []
        slide_labels(BoxModel(3, classes), random_image(3, height, width), window,
                     on_band=lambda band: bands.append(band.nbytes))
        peaks.append(max(bands))
    assert peaks == [classes * 32 * width * 4] * 2


@pytest.mark.parametrize("crop_size, stride, argument, message", [
    ((0, 10), (1, 1), "crop_size", "above 0"),
    ((10, -2), (1, 1), "crop_size", "above 0"),
    ((10,), (1, 1), "crop_size", "width, height"),
    (10, (1, 1), "crop_size", "width, height"),
    ((10, 10), (0, 5), "stride", "above 0"),
    ((10, 10), (5, 0), "stride", "above 0"),
    ((32, 32), (33, 16), "stride", "skipped"),
    ((32, 32), (16, 40), "stride", "height"),
])
def test_bad_windows_are_refused(crop_size, stride, argument, message):
    with pytest.raises(UserError, match=message) as error:
        SlideWindow(crop_size, stride)
    assert error.value.argument == argument


def test_a_model_that_gives_labels_is_refused():
    model = BoxModel(3, 4)

    def labels_model(windows):
        return model(windows).argmax(axis=1).astype(np.int32)

    with pytest.raises(UserError, match="--output_op none"):
        slide_labels(labels_model, random_image(3, 40, 40), SlideWindow((16, 16), (8, 8)))


def test_logits_of_another_size_are_refused():
    """Logits that would broadcast over the window (here 1 x 1) are not added up."""
    def pooled_model(windows):
        return BoxModel(3, 4)(windows).mean(axis=(2, 3), keepdims=True)

    with pytest.raises(UserError, match="at the windows' size"):
        slide_labels(pooled_model, random_image(3, 40, 40), SlideWindow((16, 16), (8, 8)))
