"""The README's "your own data" path: 0/255 binary masks -> prepare-dataset -> check-data -> train,
and PP-LiteSeg-T learns the foreground (which 255 as ignore index would have hidden)."""
import os

import cv2
import numpy as np
import paddle
import pytest
from paddleseg.cvlibs import Config, SegBuilder

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.weights.layouts import load_pretrained

NUM_IMAGES, SIZE, ITERS = 24, 64, 50


def make_binary_dataset(root, seed=0):
    """Noisy images with a bright disc, and its mask saved as 0/255, as many tools save them."""
    rng = np.random.default_rng(seed)
    for folder in ("images", "masks"):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    for index in range(NUM_IMAGES):
        image = rng.integers(0, 120, (SIZE, SIZE, 3), dtype=np.uint8)
        mask = np.zeros((SIZE, SIZE), np.uint8)
        centre, radius = tuple(int(v) for v in rng.integers(16, SIZE - 16, 2)), int(rng.integers(8, 14))
        cv2.circle(mask, centre, radius, 255, thickness=-1)
        image[mask == 255] += 100
        cv2.imwrite(os.path.join(root, "images", f"{index:02d}.jpg"), image)
        cv2.imwrite(os.path.join(root, "masks", f"{index:02d}.png"), mask)


def foreground_iou(prediction, label):
    return np.logical_and(prediction == 1, label == 1).sum() / np.logical_or(prediction == 1, label == 1).sum()


@pytest.mark.slow
def test_a_binary_0_255_dataset_trains_into_a_model_that_finds_the_foreground(tmp_path, capsys, monkeypatch):
    raw, output = str(tmp_path / "raw"), str(tmp_path / "prepared")
    make_binary_dataset(raw)
    assert main(["prepare-dataset", "--images", f"{raw}/images", "--labels", f"{raw}/masks", "--output", output]) == 0
    assert "binary (detected)" in capsys.readouterr().out
    config = os.path.join(output, "pp_liteseg_t.yml")
    offline = ["model.backbone.pretrained=None"]
    assert main(["check-data", "--config", config, "--opts", *offline]) == 0
    monkeypatch.chdir(tmp_path)  # the generated config works from any working directory
    assert main(["train", "--config", config, "--device", "cpu", "--save_dir", str(tmp_path / "train"),
                 "--iters", str(ITERS), "--batch_size", "4", "--seed", "0", "--save_interval", str(ITERS),
                 "--opts", *offline, "lr_scheduler.warmup_iters=5",
                 "lr_scheduler.learning_rate=0.05"]) == 0

    builder = SegBuilder(Config(config, opts=offline))
    model = builder.model
    load_pretrained(model, str(tmp_path / "train" / f"iter_{ITERS}" / "model.pdparams"))
    model.eval()
    predictions, labels = [], []
    with paddle.no_grad():
        for sample in builder.val_dataset:
            logits = model(paddle.to_tensor(sample["img"][None]))[0]
            predictions.append(logits.argmax(1).numpy()[0])
            labels.append(sample["label"][0] if sample["label"].ndim == 3 else sample["label"])
    predictions, labels = np.stack(predictions), np.stack(labels)
    # The best constant prediction: all background scores IoU 0, all foreground the foreground share.
    constant_best = max(0.0, foreground_iou(np.ones_like(labels), labels))
    iou = foreground_iou(predictions, labels)
    print(f"foreground IoU after {ITERS} iterations: {iou:.3f}; best constant prediction: {constant_best:.3f}")
    assert iou >= 2 * constant_best
