"""The plugin's OHEM cross-entropy is PaddleSeg's loss: same value and gradient, built from configs.

PaddleSeg's own forward fails on Paddle 3, so the reference is its copy in ``reference_models``,
itself checked against PaddleSeg's rule in numpy and against PaddleSeg's forward where that runs."""
import warnings

import numpy as np
import paddle
import pytest
from paddleseg.cvlibs import Config, SegBuilder, manager
from paddleseg.models import losses as paddleseg_losses

from paddleseg_liteseg.losses import OhemCrossEntropyLoss
from reference_models import PaddleSegOhemCrossEntropyLoss

IGNORE = 255


def _batch(seed, shape=(2, 5, 16, 24), ignored=0.1, label_channel=False):
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    logit = paddle.to_tensor(rng.standard_normal(shape, dtype=np.float32) * 3)
    logit.stop_gradient = False
    label = rng.integers(0, c, (n, h, w))
    label[rng.random((n, h, w)) < ignored] = IGNORE
    label = paddle.to_tensor(label[:, None] if label_channel else label)
    return logit, label


def _value_and_gradient(loss_fn, logit, label):
    loss = loss_fn(logit, label)
    loss.backward()
    gradient = logit.grad.numpy().copy()
    logit.clear_gradient()
    return float(loss), gradient


# (thresh, min_kept, ignored fraction): 768 pixels a batch, about 10% ignored
CASES = {
    "thresh above the min_kept-th probability": (0.7, 50, 0.1),
    "thresh below the min_kept-th probability": (0.05, 400, 0.1),
    "min_kept just below the valid pixels": (0.3, 600, 0.1),
    "fewer valid pixels than min_kept": (0.7, 700, 0.1),
    "min_kept 0 keeps every valid pixel": (0.7, 0, 0.1),
    "every pixel ignored": (0.7, 10, 1.0),
}


@pytest.mark.parametrize("thresh, min_kept, ignored", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("seed", [0, 1])
def test_same_loss_and_gradient_as_paddleseg(thresh, min_kept, ignored, seed):
    logit, label = _batch(seed, ignored=ignored)
    arguments = dict(thresh=thresh, min_kept=min_kept, ignore_index=IGNORE)
    ours, paddleseg = (_value_and_gradient(loss_class(**arguments), logit, label)
                       for loss_class in (OhemCrossEntropyLoss, PaddleSegOhemCrossEntropyLoss))
    np.testing.assert_allclose(ours[0], paddleseg[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours[1], paddleseg[1], rtol=0, atol=1e-4 * max(np.abs(paddleseg[1]).max(), 1e-12))


def test_the_cases_take_the_branches_they_name():
    """PaddleSeg's threshold is max(thresh, min_kept-th smallest true-class probability)."""
    logit, label = _batch(0)
    valid = label.numpy() != IGNORE
    probability = np.take_along_axis(paddle.nn.functional.softmax(logit, axis=1).numpy(),
                                     np.where(valid, label.numpy(), 0)[:, None], axis=1)[:, 0][valid]
    assert np.sort(probability)[50 - 1] < 0.7 and np.sort(probability)[400 - 1] > 0.05
    assert 600 < valid.sum() < 700


def test_label_with_a_channel_axis_gives_the_same_loss():
    logit, label = _batch(2)
    _, label_channel = _batch(2, label_channel=True)
    loss_fn = OhemCrossEntropyLoss(thresh=0.7, min_kept=100)
    assert float(loss_fn(logit, label)) == pytest.approx(float(loss_fn(logit, label_channel)), rel=1e-6)


def test_configs_naming_paddlesegs_loss_build_the_plugins():
    assert manager.LOSSES["OhemCrossEntropyLoss"] is OhemCrossEntropyLoss
    config = Config("configs/toy/pp_liteseg_stdc1_toy_256x128_300.yml")
    loss = SegBuilder(config).loss
    assert [type(loss_fn) for loss_fn in loss["types"]] == [OhemCrossEntropyLoss] * 3
    assert loss["types"][0].min_kept == 4096


def _numpy_ohem(logit, label, thresh, min_kept):
    """PaddleSeg's OHEM rule in numpy: keep valid pixels whose true-class prob < threshold."""
    c = logit.shape[1]
    lab = label.reshape(-1)
    valid = lab != IGNORE
    shifted = logit - logit.max(axis=1, keepdims=True)
    log_prob = (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))).transpose(1, 0, 2, 3).reshape(c, -1)
    nll = -log_prob[np.where(valid, lab, 0), np.arange(lab.size)]
    keep = valid.copy()
    if min_kept < valid.sum():
        p = np.exp(-nll) + (~valid)  # ignored pixels sort last
        threshold = thresh
        p_k = np.sort(p)[min(p.size, min_kept) - 1]
        if p_k > thresh:
            threshold = p_k
        keep &= p < threshold
    return (nll * keep).mean() / (keep.mean() + 1e-5)


@pytest.mark.parametrize("thresh, min_kept", [(0.7, 50), (0.05, 400)])
def test_the_reference_is_paddlesegs_rule_where_paddlesegs_forward_fails(thresh, min_kept):
    logit, label = _batch(0)
    arguments = dict(thresh=thresh, min_kept=min_kept, ignore_index=IGNORE)
    with pytest.raises(TypeError, match="Type promotion"):  # prob (float32) + (1 - valid_mask) (int64)
        paddleseg_losses.OhemCrossEntropyLoss(**arguments)(logit, label)
    loss = PaddleSegOhemCrossEntropyLoss(**arguments)(logit, label)
    np.testing.assert_allclose(float(loss), _numpy_ohem(logit.numpy(), label.numpy(), thresh, min_kept), rtol=1e-5)


def test_the_reference_is_paddlesegs_forward_where_that_runs():
    """min_kept above the valid pixels skips the branch Paddle 3 breaks."""
    logit, label = _batch(1)
    arguments = dict(thresh=0.7, min_kept=10000, ignore_index=IGNORE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PaddleSeg's softmax_with_cross_entropy is deprecated
        expected = float(paddleseg_losses.OhemCrossEntropyLoss(**arguments)(logit, label))
    assert float(PaddleSegOhemCrossEntropyLoss(**arguments)(logit, label)) == pytest.approx(expected, rel=1e-6)
