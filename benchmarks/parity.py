"""Parameter counts of PP-LiteSeg-T/B and their largest output difference from PaddleSeg's PPLiteSeg.

PaddleSeg's model gets seeded weights and BatchNorm statistics far from (0, 1); its state dict is
saved in the official layout and loaded into LiteSeg through ``pretrained``, as users do.

    python benchmarks/parity.py
"""
import os
import sys
import tempfile

import numpy as np
import paddle

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from reference_models import build_official, build_plugin  # noqa: E402


def counts(model):
    in_state_dict = sum(int(np.prod(value.shape)) for value in model.state_dict().values())
    trainable = sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient)
    return in_state_dict, trainable


def max_abs_diff(official, plugin, x):
    diffs = {}
    for mode in ("eval", "train"):
        official.train() if mode == "train" else official.eval()
        plugin.train() if mode == "train" else plugin.eval()
        diffs[mode] = max(float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(official(x), plugin(x)))
    return diffs


def main():
    print("| variant | LiteSeg state dict | trainable | PaddleSeg state dict | max |diff| eval | max |diff| train (3 logits) |")
    print("|---|---|---|---|---|---|")
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal((2, 3, 256, 512)).astype("float32"))
    for variant in ("T", "B"):
        official = build_official(variant)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "official.pdparams")
            paddle.save(official.state_dict(), path)
            plugin = build_plugin(variant, pretrained=path)
        total, trainable = counts(plugin)
        diffs = max_abs_diff(official, plugin, x)
        print(f"| {variant} | {total:,} | {trainable:,} | {counts(official)[0]:,} | "
              f"{diffs['eval']:.2e} | {diffs['train']:.2e} |")


if __name__ == "__main__":
    main()
