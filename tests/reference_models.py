"""PaddleSeg's own PP-LiteSeg with non-trivial weights, and the matching LiteSeg: the parity reference."""
import numpy as np
import paddle
from paddleseg.models import PPLiteSeg
from paddleseg.models.backbones import STDC1, STDC2

from paddleseg_liteseg import LiteSeg

# PaddleSeg's official settings (configs/pp_liteseg/*.yml) and the matching LiteSeg arguments.
VARIANTS = {
    "T": dict(backbone=STDC1,
              official=dict(arm_out_chs=[32, 64, 128], seg_head_inter_chs=[32, 64, 64]),
              plugin=dict(decoder=dict(out_channels=[32, 64, 128]), head_mid_channels=[32, 64, 64])),
    "B": dict(backbone=STDC2,
              official=dict(arm_out_chs=[64, 96, 128], seg_head_inter_chs=[64, 64, 64]),
              plugin=dict(decoder=dict(out_channels=[64, 96, 128]), head_mid_channels=[64, 64, 64])),
}


def randomize_batch_norm_statistics(layer, seed=0):
    """Give every BN buffer values far from (0, 1), so a mis-mapped buffer changes the output."""
    rng = np.random.default_rng(seed)
    for name, tensor in layer.state_dict().items():
        if name.endswith("_mean"):
            tensor.set_value(rng.normal(0, 0.5, tensor.shape).astype("float32"))
        elif name.endswith("_variance"):
            tensor.set_value(rng.uniform(0.5, 2.0, tensor.shape).astype("float32"))


def build_official(variant, num_classes=19, seed=0):
    """PaddleSeg's PPLiteSeg for ``variant`` ("T" or "B") with seeded weights and BN statistics."""
    paddle.seed(seed)
    spec = VARIANTS[variant]
    model = PPLiteSeg(num_classes, spec["backbone"](), **spec["official"])
    randomize_batch_norm_statistics(model, seed)
    return model


def build_plugin(variant, num_classes=19, **kwargs):
    spec = VARIANTS[variant]
    return LiteSeg(num_classes, spec["backbone"](), **spec["plugin"], **kwargs)
