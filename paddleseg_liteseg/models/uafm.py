"""Unified Attention Fusion Module (UAFM), section 3.3 and Figure 4 of the PP-LiteSeg paper.

UAFM upsamples a high-level feature to the size of a low-level one and fuses them with a learned
per-pixel (spatial) or per-channel weight ``alpha``::

    out = conv_out(high_up * alpha + low * (1 - alpha))

The attention branches compute exactly what PaddleSeg's ``UAFM_SpAtten`` / ``UAFM_ChAtten`` compute,
so official PaddleSeg weights load into them (see ``weights.py``).
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddleseg.cvlibs import manager
from paddleseg.models import layers
from paddleseg.models.layers import tensor_fusion_helper as reduce

from .spatial_size import spatial_size


def mean_and_max_over_channels(features, training):
    """(N, 2 * len(features), H, W): each (N, C, H, W) feature's mean over channels, then its max.

    PaddleSeg's ``avg_max_reduce_channel`` (same values, same order), made cheap to differentiate
    in training: Paddle's CPU gradient of ``paddle.max`` over channels is the slowest operator of a
    training step, while the max read with ``take_along_axis`` at the ``argmax`` has a gather's
    gradient (a scatter into the argmax channel; where channels tie exactly, the first gets it all,
    not a share). ``sum * (1 / C)`` likewise differentiates faster than ``mean``. Out of training,
    PaddleSeg's reductions, so the exported graph is unchanged.
    """
    if not training:
        return reduce.avg_max_reduce_channel(features)
    stats = []
    for feature in features:
        channels = feature.shape[1]
        argmax = paddle.argmax(feature, axis=1, keepdim=True)
        stats += [paddle.sum(feature, axis=1, keepdim=True) * (1.0 / channels),
                  paddle.take_along_axis(feature, argmax, axis=1)]
    return paddle.concat(stats, axis=1)


class SpatialAttention(nn.Layer):
    """Per-pixel weight from the channel-wise mean and max of both features (PP-LiteSeg-T/B)."""

    def __init__(self, channels):
        super().__init__()
        self.layers = nn.Sequential(
            layers.ConvBNReLU(4, 2, kernel_size=3, padding=1, bias_attr=False),
            layers.ConvBN(2, 1, kernel_size=3, padding=1, bias_attr=False))

    def forward(self, low, high_up):
        """Return alpha in [0, 1] of shape (N, 1, H, W): the weight of ``high_up``."""
        stats = mean_and_max_over_channels([low, high_up], self.training)
        return 1 - F.sigmoid(self.layers(stats))


class ChannelAttention(nn.Layer):
    """Per-channel weight from the spatial mean and max of both features."""

    def __init__(self, channels):
        super().__init__()
        self.layers = nn.Sequential(
            layers.ConvBNAct(4 * channels, channels // 2, kernel_size=1, bias_attr=False,
                             act_type="leakyrelu"),
            layers.ConvBN(channels // 2, channels, kernel_size=1, bias_attr=False))

    def forward(self, low, high_up):
        """Return alpha in [0, 1] of shape (N, C, 1, 1): the weight of ``high_up``."""
        stats = reduce.avg_max_reduce_hw([low, high_up], self.training)
        return 1 - F.sigmoid(self.layers(stats))


ATTENTIONS = {"spatial": SpatialAttention, "channel": ChannelAttention, "none": None}


@manager.MODELS.add_component
class UAFM(nn.Layer):
    """Fuse a low-level feature with an upsampled high-level feature.

    Args:
        low_channels (int): Channels of the low-level (larger) feature.
        high_channels (int): Channels of the high-level (smaller) feature; the low-level feature
            is projected to this width before fusion.
        out_channels (int): Channels of the fused output.
        attention (str): "spatial" (the paper's default), "channel", or "none" (plain sum,
            the paper's ablation baseline).
        low_kernel_size (int): Kernel size of the low-level projection.
        resize_mode (str): Interpolation mode used to upsample the high-level feature.
    """

    def __init__(self, low_channels, high_channels, out_channels, attention="spatial",
                 low_kernel_size=3, resize_mode="bilinear"):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"UAFM attention must be one of {sorted(ATTENTIONS)}, got {attention!r}")
        self.low_channels, self.high_channels, self.out_channels = low_channels, high_channels, out_channels
        self.conv_low = layers.ConvBNReLU(low_channels, high_channels, kernel_size=low_kernel_size,
                                          padding=low_kernel_size // 2, bias_attr=False)
        attention_class = ATTENTIONS[attention]
        self.attention = attention_class(high_channels) if attention_class else None
        self.conv_out = layers.ConvBNReLU(high_channels, out_channels, kernel_size=3, padding=1,
                                          bias_attr=False)
        self.resize_mode = resize_mode

    def forward(self, low, high):
        """
        Args:
            low (Tensor): (N, low_channels, H, W) low-level feature.
            high (Tensor): (N, high_channels, h, w) high-level feature, h <= H and w <= W.
        Returns:
            Tensor: (N, out_channels, H, W).
        """
        low = self.conv_low(low)
        high_up = F.interpolate(high, spatial_size(low), mode=self.resize_mode)
        if self.attention is None:
            fused = low + high_up
        else:
            alpha = self.attention(low, high_up)
            fused = low + (high_up - low) * alpha  # = high_up * alpha + low * (1 - alpha)
        return self.conv_out(fused)
