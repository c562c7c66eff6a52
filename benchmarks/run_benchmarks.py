"""Regenerate benchmarks/results.md, results.json and speed_vs_resolution.png from runs on this machine.

    python benchmarks/run_benchmarks.py                 # CPU: T and B, 256x512 .. 512x1024, every runtime
    python benchmarks/run_benchmarks.py --repeats 5     # quicker, noisier

For each variant (PP-LiteSeg-T, -B) the script trains a model on the toy data with
``paddleseg train`` (cached in benchmarks/.cache), then for each resolution times the plugin's
LiteSeg and PaddleSeg's PPLiteSeg holding the same weights on every runtime (``paddleseg bench``'s
``benchmark``: interleaved rounds, median and p90), int8 included, calibrated on toy images.
It also measures, at the toy data's own size, how often each runtime's labels agree with the
dygraph model and the int8 model's mIoU change. Every number in the outputs comes from this run.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import paddle
import yaml

import paddleseg_liteseg
from paddleseg_liteseg.datasets import toy
from paddleseg_liteseg.deploy import create_runtime, export
from paddleseg_liteseg.deploy.bench import GEMM_SIZE, benchmark
from paddleseg_liteseg.deploy.export import ONNX_INT8_KEY
from paddleseg_liteseg.deploy.quantize import INT8_FILE, quantize_onnx, spread

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TOY_CONFIG = REPO / "configs" / "toy" / "pp_liteseg_stdc1_toy_256x128_300.yml"
VARIANTS = {"T": "pp_liteseg_t.yml", "B": "pp_liteseg_b.yml"}
NUM_CLASSES = 5  # the toy config's
TOY_SIZE = (256, 128)  # width, height of the toy images


def toy_config(root, variant, iters):
    """The shipped toy config (training recipe and data) with the variant's model, on ``root``."""
    dataset = {"dataset_root": str(root)}
    return {
        # Earlier bases win: the variant's model over the toy config's PP-LiteSeg-T.
        "_base_": [str(REPO / "configs" / "_base_" / VARIANTS[variant]), str(TOY_CONFIG)],
        "iters": iters,
        "model": {"backbone": {"pretrained": None}},
        "train_dataset": dict(dataset, train_path=str(root / "train.txt")),
        "val_dataset": dict(dataset, val_path=str(root / "val.txt")),
    }


def trained_model(root, variant, iters, cache_dir):
    """(model in eval mode, config path): trained with ``paddleseg train``, cached by recipe."""
    from paddleseg.cvlibs import Config, SegBuilder

    config_path = root / f"toy_{variant}.yml"
    config_path.write_text(yaml.safe_dump(toy_config(root, variant, iters)))
    recipe = yaml.safe_dump(Config(str(config_path)).dic)  # everything, after inheritance
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    checkpoint = cache_dir / f"toy_{variant}_{key}.pdparams"
    if not checkpoint.exists():
        save_dir = root / f"train_{variant}"
        subprocess.run([sys.executable, "-m", "paddleseg_liteseg", "train", "--config", str(config_path),
                        "--save_dir", str(save_dir), "--seed", "0", "--save_interval", str(iters),
                        "--log_iters", "50"], check=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        checkpoint.write_bytes((save_dir / f"iter_{iters}" / "model.pdparams").read_bytes())
    with paddle.utils.unique_name.guard():
        model = SegBuilder(Config(str(config_path))).model
    paddleseg_liteseg.load_pretrained(model, str(checkpoint))
    model.eval()
    return model


def load_split(root, split):
    """(N, 3, H, W) normalized images and (N, H, W) labels of a toy split."""
    lines = (root / f"{split}.txt").read_text().split()
    images = [cv2.imread(str(root / path))[:, :, ::-1] for path in lines[0::2]]
    labels = np.stack([cv2.imread(str(root / path), cv2.IMREAD_GRAYSCALE) for path in lines[1::2]])
    batch = ((np.stack(images).astype("float32") / 255.0 - 0.5) / 0.5).transpose(0, 3, 1, 2)
    return batch, labels


def mean_iou(prediction, labels):
    ious = []
    valid = labels != toy.IGNORE_INDEX
    for cls in range(NUM_CLASSES):
        union = ((prediction == cls) | (labels == cls)) & valid
        if union.any():
            ious.append((((prediction == cls) & (labels == cls)) & valid).sum() / union.sum())
    return float(np.mean(ious))


def quality(model, root, work_dir, threads, calibration):
    """Agreement with dygraph and mIoU of every runtime on the toy val set (dynamic export, int8
    calibrated on ``calibration``)."""
    val_images, val_labels = load_split(root, "val")
    with paddle.no_grad():
        reference = np.concatenate([paddle.argmax(model(paddle.to_tensor(val_images[i:i + 4]))[0], 1).numpy()
                                    for i in range(0, len(val_images), 4)])
    deploy = export(model, str(work_dir), [{"type": "Normalize"}], onnx=True)
    quantize_onnx(str(work_dir / deploy["onnx"]), str(work_dir / INT8_FILE), calibration)
    deploy[ONNX_INT8_KEY] = INT8_FILE
    rows = [{"runtime": "dygraph fp32", "agreement": 1.0, "miou": mean_iou(reference, val_labels)}]
    for backend, precision in [("paddle", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32"),
                               ("onnxruntime", "int8"), ("openvino", "int8")]:
        runtime = create_runtime(str(work_dir), deploy, backend, precision=precision, threads=threads)
        labels = np.concatenate([runtime(val_images[i:i + 4]) for i in range(0, len(val_images), 4)])
        rows.append({"runtime": f"{backend} {precision}", "agreement": float((labels == reference).mean()),
                     "miou": mean_iou(labels, val_labels)})
    return rows


def targets(results):
    """The issue's targets, computed from the 512x1024 rows of each variant."""
    checks = []
    for variant, runs in results["speed"].items():
        rows = {(row["model"], row["runtime"]): row for row in runs["512x1024"]["rows"]}
        gemm = runs["512x1024"]["machine"]["gemm_gflops"]

        def median(runtime, model="plugin"):
            return rows.get((model, runtime), {}).get("median_ms")

        fp32 = {runtime: row["median_ms"] for (model, runtime), row in rows.items()
                if model == "plugin" and "fp32" in runtime and "off" not in runtime}
        best_fp32_runtime = min(fp32, key=fp32.get)
        int8 = [row["median_ms"] for (model, runtime), row in rows.items()
                if model == "plugin" and "int8" in runtime]
        ratios = [row["vs_reference"] for (model, _), row in rows.items() if model == "plugin"]
        int8_agreement = min(row["agreement"] for row in results["quality"][variant] if "int8" in row["runtime"])
        checks += [
            (variant, "plugin / reference latency, worst runtime (<= 1.0)", max(ratios)),
            (variant, "paddle oneDNN / onnxruntime speed-up of the default backend (>= 2.4)",
             median("paddle fp32") / median("onnxruntime fp32")),
            (variant, f"best fp32 ({best_fp32_runtime}) GFLOP/s / {GEMM_SIZE} GEMM GFLOP/s (>= 0.8)",
             rows[("plugin", best_fp32_runtime)]["gflops_per_s"] / gemm),
            (variant, "best fp32 / best int8 latency (>= 1.4)", fp32[best_fp32_runtime] / min(int8)),
            (variant, "int8 pixel agreement with dygraph, toy val (>= 0.99)", int8_agreement),
            (variant, "paddle oneDNN off / on latency (>= 2.0)",
             median("paddle fp32 oneDNN off") / median("paddle fp32")),
        ]
    return checks


def write_markdown(results, path):
    env = results["environment"]
    lines = ["# Benchmark results", "",
             f"Generated by `python benchmarks/run_benchmarks.py` on {env['date']}: {env['cpu']}, "
             f"{env['threads']} threads, Paddle {env['paddle']}, onnxruntime {env['onnxruntime']}, "
             f"OpenVINO {env['openvino']}. Batch 1, random input, exported models include the argmax; "
             f"median and p90 of {env['repeats']} interleaved rounds. The machine is shared: other "
             "jobs may have run at the same time, so compare rows within one table.", ""]
    lines += ["## Targets (512x1024)", "", "| variant | check | measured |", "|---|---|---|"]
    lines += [f"| {variant} | {check} | {value:.3f} |" for variant, check, value in results["targets"]]
    for variant, runs in results["speed"].items():
        for resolution, run in runs.items():
            lines += ["", f"## PP-LiteSeg-{variant}, 1x3x{resolution}", "",
                      f"fp32 GEMM rate ({GEMM_SIZE}x{GEMM_SIZE}, {run['machine']['threads']} threads): "
                      f"{run['machine']['gemm_gflops']} GFLOP/s; model: "
                      f"{run['models']['plugin']['params'] / 1e6:.2f} M params, "
                      f"{run['models']['plugin']['gflops']} GFLOPs", "",
                      "| model | runtime | median ms | p90 ms | FPS | GFLOP/s | of GEMM | vs reference |",
                      "|---|---|---|---|---|---|---|---|"]
            lines += [f"| {r['model']} | {r['runtime']} | {r['median_ms']} | {r['p90_ms']} | {r['fps']} | "
                      f"{r['gflops_per_s']} | {r['fraction_of_gemm']} | {r['vs_reference']} |"
                      for r in run["rows"]]
            lines += [f"skipped {name}: {reason}" for name, reason in run["skipped"].items()]
    for variant, rows in results["quality"].items():
        lines += ["", f"## PP-LiteSeg-{variant} on the toy val set ({TOY_SIZE[0]}x{TOY_SIZE[1]}, "
                  "dynamic-shape export)", "", "| runtime | pixel agreement with dygraph | mIoU |",
                  "|---|---|---|"]
        lines += [f"| {row['runtime']} | {row['agreement']:.5f} | {row['miou']:.4f} |" for row in rows]
    lines += ["", "![speed vs resolution](speed_vs_resolution.png)", ""]
    path.write_text("\n".join(lines))


def plot(results, path):
    """FPS against input size: one colour per runtime, solid for the plugin, dotted for PaddleSeg's."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = results["speed"]
    figure, axes = plt.subplots(1, len(variants), figsize=(6 * len(variants) + 3, 4.8), squeeze=False)
    labels = sorted({row["runtime"] for runs in variants.values() for run in runs.values() for row in run["rows"]})
    colours = dict(zip(labels, plt.get_cmap("tab10").colors))
    for axis, (variant, runs) in zip(axes[0], variants.items()):
        pixels = {resolution: np.prod([int(v) for v in resolution.split("x")]) / 1e6 for resolution in runs}
        for model, style in (("plugin", "-"), ("reference", ":")):
            for runtime in labels:
                points = sorted((pixels[resolution], row["fps"]) for resolution, run in runs.items()
                                for row in run["rows"] if (row["model"], row["runtime"]) == (model, runtime))
                if points:
                    axis.plot(*zip(*points), marker="o", linestyle=style, color=colours[runtime],
                              label=runtime if model == "plugin" else None)
        axis.set(title=f"PP-LiteSeg-{variant}, CPU {results['environment']['threads']} threads",
                 xlabel="input size HxW (batch 1)", ylabel="FPS", yscale="log")
        axis.set_xticks(list(pixels.values()), list(pixels))
        axis.grid(True, which="both", alpha=0.3)
    axes[0][-1].plot([], [], "k-", label="plugin LiteSeg")
    axes[0][-1].plot([], [], "k:", label="PaddleSeg PPLiteSeg")
    axes[0][-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def environment(threads, repeats):
    import onnxruntime
    import openvino

    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {"date": datetime.date.today().isoformat(), "cpu": cpu, "threads": threads,
            "repeats": repeats, "paddle": paddle.__version__, "onnxruntime": onnxruntime.__version__,
            "openvino": openvino.__version__, "gpu": paddle.is_compiled_with_cuda()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--resolutions", nargs="+", default=["256x512", "384x768", "512x1024"],
                        help="HxW inputs to time.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--train_iters", type=int, default=300)
    parser.add_argument("--work_dir", default=str(HERE / ".cache"))
    args = parser.parse_args()

    work = Path(args.work_dir)
    root = work / "toy_data"
    if not (root / toy.METADATA_FILE).exists():
        toy.make_toy_dataset(root, num_train=120, num_val=16, size=TOY_SIZE, num_classes=NUM_CLASSES)
    train_images, _ = load_split(root, "train")
    calibration = list(spread(train_images))
    results = {"environment": environment(args.threads, args.repeats), "speed": {}, "quality": {}}
    for variant in args.variants:
        model = trained_model(root, variant, args.train_iters, work)
        results["quality"][variant] = quality(model, root, work / f"quality_{variant}", args.threads,
                                               calibration)
        results["speed"][variant] = {}
        for resolution in args.resolutions:
            height, width = (int(v) for v in resolution.split("x"))
            print(f"PP-LiteSeg-{variant} at {resolution} ...", flush=True)
            results["speed"][variant][resolution] = benchmark(
                model, (1, 3, height, width), reference=True, threads=args.threads,
                repeats=args.repeats, warmup=args.warmup,
                calibration_images=calibration, work_dir=str(work))
    if all("512x1024" in runs for runs in results["speed"].values()):
        results["targets"] = targets(results)
    else:
        results["targets"] = []
    (HERE / "results.json").write_text(json.dumps(results, indent=2, default=str))
    write_markdown(results, HERE / "results.md")
    plot(results, HERE / "speed_vs_resolution.png")
    print((HERE / "results.md").read_text())


if __name__ == "__main__":
    main()
