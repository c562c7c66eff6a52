import numpy as np
import paddle
from paddleseg.models.losses import OhemCrossEntropyLoss

from reference_models import build_plugin


def _batch(seed=0, size=64):
    """Images whose label is readable from the pixels: a bright square (class 1) on dark noise."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0, 0.3, (4, 3, size, size)).astype("float32")
    labels = np.zeros((4, size, size), dtype="int64")
    for i in range(4):
        top, left = rng.integers(0, size // 2, 2)
        images[i, :, top:top + size // 3, left:left + size // 3] += 1.5
        labels[i, top:top + size // 3, left:left + size // 3] = 1
    labels[:, :2, :] = 255  # an ignored band
    return paddle.to_tensor(images), paddle.to_tensor(labels)


def test_deep_supervision_with_ohem_loss_decreases():
    """PaddleSeg's OHEM loss on all three heads, as the paper trains: the summed loss goes down."""
    paddle.seed(0)
    model = build_plugin("T", num_classes=2)
    model.train()
    loss_fn = OhemCrossEntropyLoss(min_kept=1000)
    optimizer = paddle.optimizer.Momentum(learning_rate=0.01, momentum=0.9,
                                          parameters=model.parameters(), weight_decay=5e-4)
    images, labels = _batch()
    losses = []
    for _ in range(20):  # OHEM's loss is noisy step to step: enough steps for a clear trend
        loss = paddle.add_n([loss_fn(logit, labels) for logit in model(images)])
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        losses.append(float(loss))
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses
