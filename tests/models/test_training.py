import numpy as np
import paddle
import pytest

from reference_models import PaddleSegOhemCrossEntropyLoss, build_plugin


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
    loss_fn = PaddleSegOhemCrossEntropyLoss(min_kept=1000)
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


def test_a_training_step_has_paddlesegs_loss_and_gradients():
    """LiteSeg with the plugin's OHEM against PaddleSeg's PPLiteSeg and OHEM, from the same weights:
    the summed loss of the three heads within 1e-5 and every weight's gradient within 1e-4 (of its
    largest magnitude), on random images whose maxima over channels do not tie."""
    from paddleseg_liteseg.losses import OhemCrossEntropyLoss
    from paddleseg_liteseg.weights.layouts import convert_official
    from reference_models import build_official

    official = build_official("T", num_classes=3)
    plugin = build_plugin("T", num_classes=3)
    plugin.set_state_dict(convert_official({key: value.numpy() for key, value in official.state_dict().items()}))
    rng = np.random.default_rng(0)
    images = paddle.to_tensor(rng.standard_normal((2, 3, 64, 96), dtype=np.float32))
    labels = rng.integers(0, 3, (2, 64, 96))
    labels[:, :3] = 255
    labels = paddle.to_tensor(labels)
    results = []
    for model, loss_fn in ((plugin, OhemCrossEntropyLoss(min_kept=2000)),
                           (official, PaddleSegOhemCrossEntropyLoss(min_kept=2000))):
        model.train()
        loss = paddle.add_n([loss_fn(logit, labels) for logit in model(images)])
        loss.backward()
        results.append((float(loss), {name: parameter.grad.numpy() for name, parameter in model.named_parameters()
                                      if parameter.grad is not None}))
    (plugin_loss, plugin_grads), (official_loss, official_grads) = results
    assert plugin_loss == pytest.approx(official_loss, rel=1e-5)
    official_grads = convert_official(official_grads)
    assert set(plugin_grads) == set(official_grads)
    for name, gradient in plugin_grads.items():
        expected = official_grads[name]
        # Gradients zero in exact arithmetic (a conv bias before BatchNorm) are rounding noise: an absolute floor.
        tolerance = max(1e-4 * np.abs(expected).max(), 1e-6)
        np.testing.assert_allclose(gradient, expected, rtol=0, atol=tolerance, err_msg=name)
