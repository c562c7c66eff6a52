"""Sliding-window inference of an exported model on an image larger than the model's input.

The windows and the labels are PaddleSeg's ``slide_inference`` (``paddleseg.core.infer``) followed by
its argmax: a window every ``stride`` pixels, the last one of a row or column moved back to end inside
the image, each pixel's logits summed over the windows that cover it (PaddleSeg then divides by their
number, which leaves the argmax as it is).

PaddleSeg keeps the summed logits of the whole image (classes x H x W). Here the windows run one row
of windows at a time, and only the pixel rows that windows still to come can touch are kept: the band,
one window high and the image's width. When the next row of windows starts lower, the pixel rows above
it are final; they are turned into labels and dropped. So the logits' memory grows with the image's
width, not its area; only the uint8 labels are H x W.

The model must give logits (exported with ``output_op`` "none"): labels cannot be averaged. A model
exported for a fixed H x W slides windows of that size over the image, not resized to it.
"""
import dataclasses
import numbers

import numpy as np

from ...errors import UserError
from ..exporting.fixed_shape import fixed_size
from ..exporting.model_files import INPUT_SHAPE_KEY, OUTPUT_OP_KEY, SLIDE_KEY


def _size_pair(value, argument):
    """``value`` as a (width, height) tuple of positive ints; a UserError naming ``argument`` otherwise."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(size, numbers.Integral) and size > 0 for size in pair):
        raise UserError(f"{argument} must be (width, height) in pixels, two whole numbers above 0; got {value!r}",
                        argument=argument)
    return tuple(int(size) for size in pair)


@dataclasses.dataclass(frozen=True)
class SlideWindow:
    """The window that slides over an image and its step, in pixels, (width, height) as PaddleSeg has them.

    Args:
        crop_size (tuple): The window's (width, height).
        stride (tuple): The step from one window to the next, (width, height); at most the window's
            size, so that every pixel is covered.
    """

    crop_size: tuple
    stride: tuple

    def __post_init__(self):
        crop_size, stride = _size_pair(self.crop_size, "crop_size"), _size_pair(self.stride, "stride")
        for axis, crop, step in zip(("width", "height"), crop_size, stride):
            if step > crop:
                raise UserError(f"stride {stride} is larger than crop_size {crop_size} along the {axis}: the "
                                f"pixels between two windows would be skipped", argument="stride")
        object.__setattr__(self, "crop_size", crop_size)
        object.__setattr__(self, "stride", stride)


def _spans(size, crop, stride):
    """PaddleSeg's windows along one axis of ``size`` pixels: (start, end) pairs, one window of
    ``size`` pixels where the image is no larger than the window."""
    count = 1 if size <= crop else -(-(size - crop) // stride) + 1
    ends = [min(index * stride + crop, size) for index in range(count)]
    return [(max(end - crop, 0), end) for end in ends]


def window_boxes(height, width, window):
    """PaddleSeg's windows on a ``height`` x ``width`` image, row by row: lists of (h1, h2, w1, w2).

    All windows have the same size, min(crop, image) along each axis; the rows' tops strictly increase.
    """
    (crop_width, crop_height), (stride_width, stride_height) = window.crop_size, window.stride
    columns = _spans(width, crop_width, stride_width)
    return [[(h1, h2, w1, w2) for w1, w2 in columns] for h1, h2 in _spans(height, crop_height, stride_height)]


def _labels(scores):
    """uint8 labels of summed logits (classes, rows, W).

    PaddleSeg divides each pixel's sum by the number of windows covering it before the argmax; that
    number is the same for all classes of a pixel, so the argmax of the sum is the argmax of the average.
    """
    return scores.argmax(axis=0).astype(np.uint8)


def _window_logits(runtime, windows):
    """The runtime's logits (N, classes, h, w) for ``windows`` (N, C, h, w); a UserError where it gives
    labels or logits of another size."""
    logits = np.asarray(runtime(windows))
    if logits.ndim == 3:
        raise UserError("sliding windows average the model's logits, but this model gives labels (an in-graph "
                        "argmax): export it with --output_op none, whose logits PaddleSeg's slide inference averages")
    if logits.ndim != 4 or logits.shape[0] != windows.shape[0] or logits.shape[2:] != windows.shape[2:]:
        raise UserError(f"sliding windows need logits (N, classes, h, w) at the windows' size; the model gave "
                        f"{logits.shape} for windows {windows.shape}")
    return logits


def slide_labels(runtime, image, window, batch_size=1, on_band=None):
    """Labels of one image by sliding ``window`` over it: PaddleSeg's ``slide_inference``, then the argmax.

    Args:
        runtime (callable): (N, C, h, w) float32 windows -> (N, classes, h, w) logits, e.g. a runtime
            of a model exported with ``--output_op none``.
        image (np.ndarray): One preprocessed image, (C, H, W) float32.
        window (SlideWindow): The window and its stride.
        batch_size (int): At most this many windows of one row per runtime call.
        on_band (callable, optional): Called with the band, (classes, window height, W) float32 summed
            logits, after each row of windows (to watch its memory).

    Returns:
        np.ndarray: (H, W) uint8 labels.
    """
    if image.ndim != 3:
        raise UserError(f"image must be one preprocessed image, (C, H, W); got shape {image.shape}", argument="image")
    if batch_size < 1:
        raise UserError(f"batch_size must be at least 1, got {batch_size}", argument="batch_size")
    height, width = image.shape[1:]
    labels = np.empty((height, width), np.uint8)
    band, band_top = None, 0  # band row 0 is image row band_top
    for row in window_boxes(height, width, window):
        top = row[0][0]
        if top > band_top:  # no window to come reaches above top: those rows are final
            shift = top - band_top
            labels[band_top:top] = _labels(band[:, :shift])
            band[:, :-shift] = band[:, shift:]
            band[:, -shift:] = 0
            band_top = top
        for first in range(0, len(row), batch_size):
            batch = row[first:first + batch_size]
            windows = np.stack([image[:, h1:h2, w1:w2] for h1, h2, w1, w2 in batch]).astype(np.float32, copy=False)
            logits = _window_logits(runtime, windows)
            if band is None:
                band = np.zeros((logits.shape[1], windows.shape[2], width), np.float32)
            for (_, _, w1, w2), window_logits in zip(batch, logits):
                band[:, :, w1:w2] += window_logits
        if on_band is not None:
            on_band(band)
    labels[band_top:] = _labels(band)
    return labels


def recorded_window(model):
    """The SlideWindow ``model``'s (an ExportedModel's) deploy.yaml records from its config's
    test_config, or None."""
    stored = model.get(SLIDE_KEY)
    return SlideWindow(tuple(stored["crop_size"]), tuple(stored["stride"])) if stored else None


def check_window(model, window):
    """Raise UserError where ``model`` (an ExportedModel) cannot slide ``window``: its output is
    labels (an in-graph argmax, which cannot be averaged), or it was exported for another H x W."""
    if model.get(OUTPUT_OP_KEY, "argmax") == "argmax":
        raise UserError(f"{model.directory} was exported with an argmax, and sliding windows average the "
                        "model's logits, as PaddleSeg's slide inference does: export it with output_op "
                        "'none'", argument="output_op")
    size = fixed_size(model.get(INPUT_SHAPE_KEY))
    if size is not None and tuple(window.crop_size) != (size[1], size[0]):
        raise UserError(f"{model.directory} takes {size[1]}x{size[0]} inputs (its fixed input_shape), so its "
                        f"window is crop_size ({size[1]}, {size[0]}), not {window.crop_size}", argument="crop_size")


def check_image_fits(model, image_shape):
    """Raise UserError where a model exported for a fixed H x W gets an image smaller than that: its
    windows would be smaller than the model's input."""
    size = fixed_size(model.get(INPUT_SHAPE_KEY))
    if size is not None and (image_shape[0] < size[0] or image_shape[1] < size[1]):
        raise UserError(f"an image of {image_shape[1]}x{image_shape[0]} is smaller than the {size[1]}x{size[0]} "
                        f"window that {model.directory} takes (its fixed input_shape): run it without sliding",
                        argument="image")
