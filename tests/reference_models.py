"""PaddleSeg's own PP-LiteSeg with non-trivial weights, and the matching LiteSeg; PaddleSeg's OHEM loss as
PaddleSeg computes it: the parity references (the tests' and the benchmarks')."""
import numpy as np
import paddle
import paddle.nn.functional as F
from paddleseg.models import PPLiteSeg
from paddleseg.models import losses as paddleseg_losses
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


class PaddleSegOhemCrossEntropyLoss(paddleseg_losses.OhemCrossEntropyLoss):
    """PaddleSeg 2.8's OHEM cross-entropy, step for step, with the one cast Paddle 3 needs (its forward
    adds an int64 mask to float32 probabilities, which Paddle 3 refuses) and ``F.cross_entropy`` for
    its deprecated, identical ``F.softmax_with_cross_entropy``. The plugin's loss (one softmax, no
    sort) is checked and timed against this."""

    def forward(self, logit, label):
        if len(label.shape) != len(logit.shape):
            label = paddle.unsqueeze(label, 1)
        n, c, h, w = logit.shape
        label = label.reshape((-1, )).astype('int64')
        valid_mask = (label != self.ignore_index).astype('int64')
        num_valid = valid_mask.sum()
        label = label * valid_mask
        prob = F.softmax(logit, axis=1).transpose((1, 0, 2, 3)).reshape((c, -1))
        if self.min_kept < num_valid and num_valid > 0:
            prob = prob + (1 - valid_mask).astype(prob.dtype)  # ignored pixels get prob > 1 (PaddleSeg: no cast)
            prob = paddle.sum(prob * F.one_hot(label, c).transpose((1, 0)), axis=0)
            threshold = self.thresh
            if self.min_kept > 0:
                index = prob.argsort()
                threshold_index = int(index[min(len(index), self.min_kept) - 1])
                if prob[threshold_index] > self.thresh:
                    threshold = prob[threshold_index]
                kept_mask = (prob < threshold).astype('int64')
                label = label * kept_mask
                valid_mask = valid_mask * kept_mask
        label = (label + (1 - valid_mask) * self.ignore_index).reshape((n, 1, h, w))
        valid_mask = valid_mask.reshape((n, 1, h, w)).astype('float32')
        loss = F.cross_entropy(logit, label, ignore_index=self.ignore_index, reduction='none', axis=1)
        label.stop_gradient = True
        valid_mask.stop_gradient = True
        return paddle.mean(loss * valid_mask) / (paddle.mean(valid_mask) + self.EPS)
