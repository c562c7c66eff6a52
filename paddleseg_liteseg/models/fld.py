"""Flexible Lightweight Decoder (FLD), section 3.1 and Figure 3 of the PP-LiteSeg paper.

FLD walks from the deepest feature to the shallowest, fusing each backbone stage with the decoded
deeper feature through a UAFM. Its channels shrink as resolution grows (PP-LiteSeg-T: 128 -> 64 ->
32), balancing compute between encoder and decoder.
"""
import paddle.nn as nn
from paddleseg.cvlibs import manager

from .uafm import UAFM


@manager.MODELS.add_component
class FLD(nn.Layer):
    """
    Args:
        in_channels (list[int]): Channels of the backbone features, shallow to deep.
        context_channels (int): Channels of the context feature fused into the deepest stage
            (the SPPM output).
        out_channels (list[int]): Output channels of each stage, shallow to deep, e.g.
            [32, 64, 128] for PP-LiteSeg-T and [64, 96, 128] for -B.
        attention (str): UAFM attention: "spatial", "channel" or "none".
        low_kernel_size (int): Kernel size of each UAFM's low-level projection.
        resize_mode (str): Upsampling mode inside the UAFMs.
    """

    def __init__(self, in_channels, context_channels, out_channels, attention="spatial",
                 low_kernel_size=3, resize_mode="bilinear"):
        super().__init__()
        if len(in_channels) != len(out_channels):
            raise ValueError(f"FLD needs one out_channels entry per input feature: got "
                             f"in_channels={list(in_channels)}, out_channels={list(out_channels)}")
        self.in_channels, self.out_channels = list(in_channels), list(out_channels)
        self.context_channels = context_channels
        high_channels = self.out_channels[1:] + [context_channels]
        self.fusions = nn.LayerList([
            UAFM(low, high, out, attention=attention, low_kernel_size=low_kernel_size,
                 resize_mode=resize_mode)
            for low, high, out in zip(self.in_channels, high_channels, self.out_channels)])

    def forward(self, features, context):
        """
        Args:
            features (list[Tensor]): Backbone features, shallow to deep.
            context (Tensor): Context for the deepest stage, at its resolution or smaller.
        Returns:
            list[Tensor]: Decoded features, shallow to deep, each at its input's resolution.
        """
        decoded = []
        high = context
        for feature, fusion in reversed(list(zip(features, self.fusions))):
            high = fusion(feature, high)
            decoded.insert(0, high)
        return decoded
