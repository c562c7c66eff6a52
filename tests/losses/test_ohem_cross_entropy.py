"""The plugin's OHEM cross-entropy is PaddleSeg's loss: same value and gradient, built from configs."""
import numpy as np
import paddle
import pytest
from paddleseg.cvlibs import Config, SegBuilder, manager
from paddleseg.models import losses as paddleseg_losses

from paddleseg_liteseg.losses import OhemCrossEntropyLoss

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
                       for loss_class in (OhemCrossEntropyLoss, paddleseg_losses.OhemCrossEntropyLoss))
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
