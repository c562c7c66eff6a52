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


class PyramidBranch(nn.Layer):
    """Average-pool to ``bin_size`` x ``bin_size`` and project with a 1x1 ConvBNReLU."""

    def __init__(self, in_channels, out_channels, bin_size):
        super().__init__()
        self.bin_size = bin_size
        self.pool = nn.AdaptiveAvgPool2D(bin_size)
        self.conv = layers.ConvBNReLU(in_channels, out_channels, kernel_size=1)

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
        size = paddle.shape(x)[2:]
        context = None
        for stage in self.stages:
            branch = F.interpolate(stage(x), size, mode="bilinear", align_corners=self.align_corners)
            context = branch if context is None else context + branch
        return self.conv_out(context)
