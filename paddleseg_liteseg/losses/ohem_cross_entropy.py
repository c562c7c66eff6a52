"""Online hard example mining (OHEM) cross-entropy: PaddleSeg's loss with one softmax and no sort.

PaddleSeg's ``OhemCrossEntropyLoss`` keeps the valid pixels whose true-class probability is below a
threshold: ``thresh``, raised to the ``min_kept``-th smallest probability where fewer pixels than
``min_kept`` would be kept. To find it, its forward computes a softmax, one-hot encodes the labels
to read each pixel's probability and argsorts all of them, then computes the softmax again inside
the cross-entropy. Here the per-pixel cross-entropy is computed once, each pixel's probability is
``exp(-cross_entropy)``, and ``kthvalue`` finds the ``min_kept``-th smallest without a full sort.
The loss, its gradient and its arguments are PaddleSeg's.
"""
import warnings

import paddle
import paddle.nn.functional as F
from paddleseg.cvlibs import manager
from paddleseg.models import losses

IGNORED_PROBABILITY = 2.0  # above any probability, so ignored pixels are never among the smallest


class OhemCrossEntropyLoss(losses.OhemCrossEntropyLoss):
    """PaddleSeg's OHEM cross-entropy (same arguments: ``thresh``, ``min_kept``, ``ignore_index``).

    As in PaddleSeg, mining applies only where ``0 < min_kept < valid pixels``; otherwise every
    valid pixel counts.
    """

    def forward(self, logit, label):
        """
        Args:
            logit (Tensor): (N, C, H, W) float logits.
            label (Tensor): (N, H, W) or (N, 1, H, W) integer labels; ``ignore_index`` marks pixels
                that do not count.
        Returns:
            Tensor: the mean cross-entropy of the kept pixels (a 0-d tensor).
        """
        if len(label.shape) != len(logit.shape):
            label = paddle.unsqueeze(label, 1)
        label = label.astype("int64")
        valid = label != self.ignore_index
        loss = F.cross_entropy(logit, paddle.where(valid, label, paddle.zeros_like(label)),
                               reduction="none", axis=1)
        kept = self._kept(loss.detach(), valid) if 0 < self.min_kept < int(valid.sum()) else valid
        kept = kept.astype(loss.dtype)
        return paddle.mean(loss * kept) / (paddle.mean(kept) + self.EPS)

    def _kept(self, loss, valid):
        """Valid pixels whose true-class probability is below the threshold (bool, like ``valid``)."""
        probability = paddle.where(valid, paddle.exp(-loss), paddle.full_like(loss, IGNORED_PROBABILITY))
        threshold = paddle.kthvalue(probability.flatten(), self.min_kept)[0].clip(min=self.thresh)
        return probability < threshold


def register():
    """Make ``type: OhemCrossEntropyLoss`` in a config build this class (PaddleSeg warns that it
    replaces a registered name; that is the point here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="OhemCrossEntropyLoss exists already")
        manager.LOSSES.add_component(OhemCrossEntropyLoss)
