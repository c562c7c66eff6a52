"""Training throughput (samples/s) of PP-LiteSeg-T and -B, built from the shipped Cityscapes configs.

Each step is what ``paddleseg train`` does per iteration: forward in training mode, the three OHEM
losses, backward and an SGD-momentum update, on a random batch at the configs' 1024x512 crop.

    python benchmarks/train_throughput.py [--batch_size 2] [--steps 5] [--height 512 --width 1024]
"""
import argparse
import os
import time

import numpy as np
import paddle
from paddleseg.cvlibs import Config, SegBuilder

import paddleseg_liteseg  # noqa: F401  (registers LiteSeg)

CONFIGS = {
    "PP-LiteSeg-T": "configs/cityscapes/pp_liteseg_stdc1_cityscapes_1024x512_scale0.5_160k.yml",
    "PP-LiteSeg-B": "configs/cityscapes/pp_liteseg_stdc2_cityscapes_1024x512_scale0.5_160k.yml",
}


def build(config_path):
    """Model, optimizer and losses exactly as the config makes them (no dataset, no download)."""
    config = Config(config_path, opts=["model.backbone.pretrained=None"])
    builder = SegBuilder(config)
    return builder.model, builder.optimizer, builder.loss


def seconds_per_step(model, optimizer, losses, batch_size, height, width, steps, warmup=1):
    images = paddle.randn([batch_size, 3, height, width])
    labels = paddle.randint(0, 19, [batch_size, height, width])
    model.train()
    times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        logits = model(images)
        loss = paddle.add_n([coef * loss_fn(logit, labels) for logit, loss_fn, coef
                             in zip(logits, losses["types"], losses["coef"])])
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch_size", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=1024)
    args = parser.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    paddle.set_device("cpu")
    print(f"device: cpu, threads: {os.cpu_count()}, batch {args.batch_size} x 3 x {args.height} x {args.width}, "
          f"median of {args.steps} steps")
    print("| model | s/step | samples/s |\n|---|---|---|")
    for name, config_path in CONFIGS.items():
        model, optimizer, losses = build(config_path)
        seconds = seconds_per_step(model, optimizer, losses, args.batch_size, args.height, args.width, args.steps)
        print(f"| {name} | {seconds:.2f} | {args.batch_size / seconds:.2f} |")


if __name__ == "__main__":
    main()
