"""Bilinear resizing as two matrix products: the heads' upsampling to the input's size in training.

In training every head's logits are upsampled to the input's size, and on CPU the gradient of
``F.interpolate``'s bilinear mode (a scatter) is among the slowest operators of a step at large
crops. Bilinear interpolation is separable: ``out = rows @ x @ columns^T``, where each row of an
(out_size, in_size) matrix holds one output position's two source weights; the products and their
gradients are matrix multiplies. The weights are those of Paddle's ``bilinear_interp`` with
``align_corners=False`` (half-pixel centres, source positions clamped at 0, ratio ``in / out``), so
the values are ``F.interpolate``'s within float rounding.
"""
import functools

import numpy as np
import paddle


@functools.lru_cache(maxsize=64)
def bilinear_weights(in_size, out_size):
    """(out_size, in_size) float32 matrix of Paddle's bilinear resize along one axis (align_corners=False)."""
    ratio = np.float32(in_size) / np.float32(out_size)
    source = ratio * (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5)
    low = np.maximum(source.astype(np.int64), 0)  # truncation toward zero, then clamped, as Paddle's kernel
    high = np.minimum(low + 1, in_size - 1)
    fraction = np.maximum(source, np.float32(0)) - low
    weights = np.zeros((out_size, in_size), dtype=np.float32)
    rows = np.arange(out_size)
    np.add.at(weights, (rows, low), 1 - fraction)
    np.add.at(weights, (rows, high), fraction)
    return weights


def resize_bilinear(x, size):
    """``F.interpolate(x, size, mode="bilinear", align_corners=False)`` of an (N, C, h, w) tensor, as
    matrix products (width first: the cheaper order when upsampling). ``size`` is (H, W) in ints."""
    height, width = (int(side) for side in size)
    rows = paddle.to_tensor(bilinear_weights(x.shape[2], height), dtype=x.dtype)
    columns = paddle.to_tensor(bilinear_weights(x.shape[3], width), dtype=x.dtype)
    return paddle.matmul(rows, paddle.matmul(x, columns, transpose_y=True))
