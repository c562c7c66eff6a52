"""Train PP-LiteSeg-T 30 steps at the toy crop from a fixed seed and print the losses (JSON).

Run as a script, one process per way of training, because MKL chooses its kernels once per process:

    python tests/loss_curves.py plugin train-settings | plugin paddle-defaults | reference paddle-defaults

``plugin``: LiteSeg with the losses a config builds now (the plugin's OHEM); ``reference``:
PaddleSeg's PPLiteSeg and OhemCrossEntropyLoss (``reference_models``' copy, which runs on Paddle 3)
with the same initial weights. ``train-settings``: the CPU settings ``paddleseg train`` makes;
``paddle-defaults``: none.
"""
import json
import os
import sys

import numpy as np

STEPS = 30
SHAPE = (4, 3, 64, 128)  # the toy config's crop
NUM_CLASSES = 5
MIN_KEPT = SHAPE[0] * SHAPE[2] * SHAPE[3] // 16  # as the configs scale it


def batches(seed=0):
    """Images whose label is readable from the pixels: one bright rectangle per class on noise."""
    rng = np.random.default_rng(seed)
    n, c, h, w = SHAPE
    for _ in range(STEPS):
        images = rng.normal(0, 0.3, SHAPE).astype("float32")
        labels = np.zeros((n, h, w), dtype="int64")
        for i in range(n):
            for label in range(1, NUM_CLASSES):
                top, left = rng.integers(0, h // 2), rng.integers(0, w // 2)
                images[i, label % c, top:top + h // 4, left:left + w // 4] += 1.5
                labels[i, top:top + h // 4, left:left + w // 4] = label
        labels[:, :2] = 255  # an ignored band
        yield images, labels


def losses(model_name, settings):
    import paddle

    from paddleseg_liteseg.cpu_settings import apply_training_settings
    if settings == "train-settings":
        apply_training_settings(environ={name: value for name, value in os.environ.items()
                                         if name != "OMP_NUM_THREADS"})
    from paddleseg.cvlibs import manager

    from paddleseg_liteseg.weights.layouts import convert_to_official
    from reference_models import PaddleSegOhemCrossEntropyLoss, build_official, build_plugin

    paddle.seed(0)
    model = build_plugin("T", num_classes=NUM_CLASSES)
    loss_class = manager.LOSSES["OhemCrossEntropyLoss"]
    if model_name == "reference":
        reference = build_official("T", num_classes=NUM_CLASSES)
        reference.set_state_dict(convert_to_official(model.state_dict()))
        model, loss_class = reference, PaddleSegOhemCrossEntropyLoss
    loss_fn = loss_class(min_kept=MIN_KEPT)
    optimizer = paddle.optimizer.Momentum(learning_rate=0.002, momentum=0.9, parameters=model.parameters(),
                                          weight_decay=5e-4)
    model.train()
    curve = []
    for images, labels in batches():
        loss = paddle.add_n([loss_fn(logit, paddle.to_tensor(labels)) for logit in model(paddle.to_tensor(images))])
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        curve.append(float(loss))
    return curve


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import paddleseg_liteseg  # noqa: F401  (before Paddle: reads OMP_NUM_THREADS; installs the plugin's loss)
    print(json.dumps(losses(*sys.argv[1:3])))
