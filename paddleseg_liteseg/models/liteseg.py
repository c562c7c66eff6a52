"""PP-LiteSeg: backbone -> SPPM -> FLD (UAFMs) -> heads, Figure 2 of the paper (arXiv 2204.02681)."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddleseg.cvlibs import manager

from .fld import FLD
from .heads import LiteSegHead
from .resize import resize_bilinear
from .spatial_size import spatial_size
from .sppm import SPPM
from ..weights.layouts import load_pretrained


@manager.MODELS.add_component
class LiteSeg(nn.Layer):
    """PP-LiteSeg built from registered parts; T and B differ only in their configs.

    Args:
        num_classes (int): Number of classes.
        backbone (nn.Layer): A backbone with ``feat_channels`` returning a list of features,
            e.g. PaddleSeg's STDC1 (PP-LiteSeg-T) or STDC2 (PP-LiteSeg-B).
        backbone_indices (list[int]): Which backbone features the decoder fuses, shallow to deep.
        context (dict|SPPM): SPPM arguments (``inter_channels``, ``out_channels``, ``bin_sizes``,
            ``align_corners``), its ``in_channels`` taken from the backbone; or a built module.
        decoder (dict|FLD): FLD arguments (``out_channels`` shallow to deep, ``attention``,
            ``low_kernel_size``, ``resize_mode``), its input channels taken from the backbone and
            context; or a built module.
        head_mid_channels (list[int]|int): Hidden channels of each stage's head.
        pretrained (str, optional): Path or URL of a checkpoint in this plugin's or PaddleSeg's
            official PP-LiteSeg layout; see ``weights.load_pretrained``.

    Returns (forward): in training a list of logits, one per decoder stage (the finest first), for
    deep supervision; in eval a one-element list. Every logit has the input's height and width.
    """

    def __init__(self, num_classes, backbone, backbone_indices=(2, 3, 4), context=None,
                 decoder=None, head_mid_channels=64, pretrained=None):
        super().__init__()
        feat_channels = getattr(backbone, "feat_channels", None)
        if feat_channels is None:
            raise ValueError(f"model.backbone ({type(backbone).__name__}) has no feat_channels")
        if max(backbone_indices) >= len(feat_channels):
            raise ValueError(f"model.backbone_indices {list(backbone_indices)} out of range for "
                             f"a backbone with {len(feat_channels)} features")
        self.backbone = backbone
        self.backbone_indices = list(backbone_indices)
        in_channels = [feat_channels[i] for i in self.backbone_indices]

        self.context = _build_part("context", context, SPPM, in_channels=in_channels[-1])
        self.decoder = _build_part("decoder", decoder, FLD, in_channels=in_channels,
                                   context_channels=self.context.out_channels)
        if isinstance(head_mid_channels, int):
            head_mid_channels = [head_mid_channels] * len(in_channels)
        if len(head_mid_channels) != len(in_channels):
            raise ValueError(f"model.head_mid_channels needs {len(in_channels)} entries, got "
                             f"{list(head_mid_channels)}")
        self.heads = nn.LayerList([
            LiteSegHead(channels, mid, num_classes)
            for channels, mid in zip(self.decoder.out_channels, head_mid_channels)])
        self.num_classes = num_classes
        self.pretrained = pretrained
        if pretrained:
            load_pretrained(self, pretrained)

    def forward(self, x):
        _check_image_shape(x)
        size = spatial_size(x)
        features = self.backbone(x)
        features = [features[i] for i in self.backbone_indices]
        context = self.context(features[-1])
        decoded = self.decoder(features, context)
        heads = self.heads if self.training else self.heads[:1]
        logits = [head(feature) for head, feature in zip(heads, decoded)]
        if self.training and paddle.in_dynamic_mode():  # the same values, with a faster gradient
            return [resize_bilinear(logit, x.shape[2:]) for logit in logits]
        return [F.interpolate(logit, size, mode="bilinear", align_corners=False) for logit in logits]


def _check_image_shape(x):
    """Refuse what no layer would take, naming the shape: not (N, C, H, W), or a side of 0 pixels (any
    side from 1 pixel works). Eager mode only: an exported graph's shapes are known at run time."""
    if paddle.in_dynamic_mode() and (len(x.shape) != 4 or 0 in x.shape[2:]):
        raise ValueError(f"LiteSeg takes images as (N, C, H, W) with H, W >= 1, got shape {list(x.shape)}")


def _build_part(name, spec, default_class, **inferred):
    """Build ``default_class(**inferred, **spec)``, or check that a built module fits ``inferred``."""
    if isinstance(spec, nn.Layer):
        for key, needed in inferred.items():
            actual = getattr(spec, key, None)
            if actual != needed:
                raise ValueError(f"model.{name}.{key} is {actual} but this backbone needs {needed}")
        return spec
    spec = dict(spec or {})
    clashing = sorted(set(spec) & set(inferred))
    if clashing:
        raise ValueError(f"model.{name}: {clashing} are derived from the backbone; remove them")
    return default_class(**inferred, **spec)
