"""Simple Pyramid Pooling Module (SPPM), section 3.2 and Figure 5 of the PP-LiteSeg paper.

SPPM aggregates global context from the deepest backbone feature: average-pool it into a few bin
sizes, project each with a 1x1 ConvBNReLU, upsample them back, sum, and mix with a 3x3 ConvBNReLU.
Summing (instead of PSPNet's concatenation) and few channels keep it cheap.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddleseg.cvlibs import manager
from paddleseg.models import layers

from .spatial_size import is_known, spatial_size


def adaptive_average_matrix(length, bins):
    """(bins, length) matrix whose row i averages positions [floor(i*L/b), ceil((i+1)*L/b)).

    Those are adaptive average pooling's bins. Position j is in bin i exactly when
    ``(j + 1) * b > i * L`` and ``j * b < (i + 1) * L``, integer comparisons that need no
    division, so ``length`` may be a tensor from ``paddle.shape`` and the graph stays dynamic.
    """
    positions = paddle.arange(length, dtype="int64").unsqueeze(0)
    starts = paddle.arange(bins, dtype="int64").unsqueeze(1) * length
    inside = ((positions + 1) * bins > starts) & (positions * bins < starts + length)
    weights = inside.astype("float32")
    return weights / weights.sum(axis=1, keepdim=True)


def matrix_pool(x, bins):
    """Adaptive average pooling as ``rows @ x @ columns.T``, with averaging matrices built from the
    input's runtime shape: the same numbers (within float rounding) for any H and W."""
    height, width = paddle.shape(x)[2], paddle.shape(x)[3]
    rows = adaptive_average_matrix(height, bins).astype(x.dtype)
    columns = adaptive_average_matrix(width, bins).astype(x.dtype)
    return paddle.matmul(paddle.matmul(rows, x), columns, transpose_y=True)


def slice_pool(x, bins, height, width):
    """Adaptive average pooling of an input of known ``height`` x ``width``, as the mean of each
    bin's slice: slices and means, which every converter and runtime takes (pnnx and NCNN do not
    convert ``matrix_pool``'s products of a matrix and a 4-D tensor right)."""
    def bounds(i, length):
        return (i * length) // bins, -(-(i + 1) * length // bins)

    rows = []
    for top, bottom in (bounds(i, height) for i in range(bins)):
        cells = [x[:, :, top:bottom, left:right].mean(axis=[2, 3], keepdim=True)
                 for left, right in (bounds(j, width) for j in range(bins))]
        rows.append(paddle.concat(cells, axis=3) if bins > 1 else cells[0])
    return paddle.concat(rows, axis=2) if bins > 1 else rows[0]


class PyramidBranch(nn.Layer):
    """Average-pool to ``bin_size`` x ``bin_size`` and project with a 1x1 ConvBNReLU."""

    def __init__(self, in_channels, out_channels, bin_size):
        super().__init__()
        self.bin_size = bin_size
        self.conv = layers.ConvBNReLU(in_channels, out_channels, kernel_size=1)

    def pool(self, x):
        """Adaptive average pooling of (N, C, H, W) to (N, C, bin_size, bin_size).

        Eagerly this is PaddleSeg's own op, so training and parity with its PPLiteSeg are exact. In
        a static graph (export) it is ``slice_pool`` where H and W are fixed and ``matrix_pool``
        where they are dynamic, because ``AdaptiveAvgPool2D`` exports to ONNX only for a fixed H and
        W that the bins divide.
        """
        if paddle.in_dynamic_mode():
            return F.adaptive_avg_pool2d(x, self.bin_size)
        size = spatial_size(x)
        if is_known(size):
            return slice_pool(x, self.bin_size, *size)
        return matrix_pool(x, self.bin_size)

    def forward(self, x):
        return self.conv(self.pool(x))


@manager.MODELS.add_component
class SPPM(nn.Layer):
    """
    Args:
        in_channels (int): Channels of the input feature (the backbone's deepest stage).
        inter_channels (int): Channels of each pyramid branch.
        out_channels (int): Channels of the output context feature.
        bin_sizes (list[int]): Output sizes of the pyramid's average pooling; [1, 2, 4] in the paper.
        align_corners (bool): Passed to the bilinear upsampling of the branches.
    """

    def __init__(self, in_channels, inter_channels=128, out_channels=128, bin_sizes=(1, 2, 4),
                 align_corners=False):
        super().__init__()
        if not bin_sizes:
            raise ValueError("SPPM needs at least one bin size")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stages = nn.LayerList(
            [PyramidBranch(in_channels, inter_channels, size) for size in bin_sizes])
        self.conv_out = layers.ConvBNReLU(inter_channels, out_channels, kernel_size=3, padding=1)
        self.align_corners = align_corners

    def forward(self, x):
        """(N, in_channels, H, W) -> (N, out_channels, H, W)."""
        size = spatial_size(x)
        context = None
        for stage in self.stages:
            branch = F.interpolate(stage(x), size, mode="bilinear", align_corners=self.align_corners)
            context = branch if context is None else context + branch
        return self.conv_out(context)
