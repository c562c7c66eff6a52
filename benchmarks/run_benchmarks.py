"""Regenerate benchmarks/results.md, results.json and speed_vs_resolution.png from runs on this machine.

    python benchmarks/run_benchmarks.py                 # CPU: T and B, 256x512 .. 512x1024, every runtime
    python benchmarks/run_benchmarks.py --repeats 5     # quicker, noisier

For each variant (PP-LiteSeg-T, -B) the script trains a model on the toy data with
``paddleseg train`` (cached in benchmarks/.cache), then for each resolution times the plugin's
LiteSeg and PaddleSeg's PPLiteSeg holding the same weights on every runtime (``paddleseg bench``'s
``benchmark``: interleaved rounds, median and p90), int8 included, calibrated on toy images.
Each timed row carries its pixel agreement with the dygraph model on toy val images. It also
measures, at the toy data's own size, how often each runtime's labels agree with the dygraph model
and each runtime's mIoU. Where ``../shared/data/camvid_sample`` exists (32 labelled CamVid
photos), each variant is also trained briefly on half of them (``--camvid_iters``) and every
backend x precision is scored on the other half by ``paddleseg tune``'s measurement: agreement
with Paddle Inference fp32 and mIoU against the labels, on real photos. Every target gets a
verdict (met / NOT met). Every number in the outputs comes from this run.
"""
import argparse
import datetime
import hashlib
import json
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
from paddleseg_liteseg.datasets.file_lists import list_line
from paddleseg_liteseg.deploy import create_runtime
from paddleseg_liteseg.deploy.int8.agreement import MAX_MIOU_DROP, MIN_AGREEMENT
from paddleseg_liteseg.deploy.measuring.bench import benchmark
from paddleseg_liteseg.deploy.running.cpu_features import read_cpu_info
from paddleseg_liteseg.deploy.measuring.gemm_rates import GEMM_SIZE
from paddleseg_liteseg.deploy.exporting.export import write_inference_model
from paddleseg_liteseg.deploy.exporting.exported_model import DEFAULT_TRANSFORMS, preprocessing
from paddleseg_liteseg.deploy.exporting.model_files import INT8_SCORES_KEY
from paddleseg_liteseg.deploy.int8.int8_choice import write_int8_models
from paddleseg_liteseg.deploy.int8.quantize import calibration_images, spread
from paddleseg_liteseg.deploy.running.runtime_id import RuntimeId
from paddleseg_liteseg.deploy.running.runtimes import BackendUnavailable
from paddleseg_liteseg.deploy.measuring.tune import measure, pick, tuning_samples
from paddleseg_liteseg.evaluation.confusion import mean_iou
from report_sections import kept_sections

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TOY_CONFIG = REPO / "configs" / "toy" / "pp_liteseg_stdc1_toy_256x128_300.yml"
VARIANTS = {"T": "pp_liteseg_t.yml", "B": "pp_liteseg_b.yml"}
NUM_CLASSES = 5  # the toy config's
TOY_SIZE = (256, 128)  # width, height of the toy images
CAMVID_SAMPLE = REPO.parent / "shared" / "data" / "camvid_sample"  # see its README.md
CAMVID_CONFIGS = {"T": "pp_liteseg_stdc1_camvid_960x720_10k.yml", "B": "pp_liteseg_stdc2_camvid_960x720_10k.yml"}
# Every target a check compares with, in one place (the issues that set them).
TARGETS = {"vs_reference": 1.0, "of_own_gemm": 0.8, "paddle_vs_onnxruntime": 1.2, "int8_speedup": 1.4,
           "onednn_speedup": 2.0, "tuned_speedup": 1.4, "tuned_speedup_amx": 4.0}
CAMVID_VOID = 11  # the sample's void label; written as 255 for training, as prepare-camvid does
CAMVID_PROCESSES = 2  # training processes (one core each)


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


def trained_model(root, variant, iters, cache_dir, config=None, name="toy", processes=1):
    """The model in eval mode, trained with ``paddleseg train`` on ``config`` (default: the toy
    config of ``variant``) in ``processes`` CPU processes, cached by recipe."""
    from paddleseg.cvlibs import Config, SegBuilder

    config_path, checkpoint = trained_checkpoint(root, variant, iters, cache_dir, config, name, processes)
    with paddle.utils.unique_name.guard():
        model = SegBuilder(Config(str(config_path))).model
    paddleseg_liteseg.load_pretrained(model, str(checkpoint))
    model.eval()
    return model


def trained_checkpoint(root, variant, iters, cache_dir, config=None, name="toy", processes=1):
    """(config file, checkpoint) of ``trained_model``'s model, trained first where not cached."""
    from paddleseg.cvlibs import Config

    config_path = root / f"{name}_{variant}.yml"
    config_path.write_text(yaml.safe_dump(config or toy_config(root, variant, iters)))
    recipe = yaml.safe_dump(Config(str(config_path)).dic)  # everything, after inheritance
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    checkpoint = cache_dir / f"{name}_{variant}_{key}.pdparams"
    if not checkpoint.exists():
        save_dir = root / f"train_{name}_{variant}"
        launch = [sys.executable, "-m", "paddleseg_liteseg"]
        if processes > 1:  # Paddle's CPU training uses one core a process: gloo, one process a core
            launch = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(processes),
                      "--log_dir", str(root / f"log_{name}_{variant}"),
                      str(Path(sys.executable).with_name("paddleseg"))]
        subprocess.run([*launch, "train", "--device", "cpu", "--config", str(config_path), "--save_dir", str(save_dir),
                        "--seed", "0", "--save_interval", str(iters), "--log_iters", "50"], check=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        checkpoint.write_bytes((save_dir / f"iter_{iters}" / "model.pdparams").read_bytes())
    return config_path, checkpoint


def load_split(root, split):
    """(N, 3, H, W) images preprocessed by PaddleSeg's Normalize and (N, H, W) labels of a toy split."""
    lines = (root / f"{split}.txt").read_text().split()
    normalize = preprocessing(DEFAULT_TRANSFORMS)
    images = [normalize({"img": cv2.imread(str(root / path)).astype("float32")})["img"] for path in lines[0::2]]
    labels = np.stack([cv2.imread(str(root / path), cv2.IMREAD_GRAYSCALE) for path in lines[1::2]])
    return np.stack(images), labels


def quality(model, root, work_dir, threads, calibration):
    """Agreement with dygraph and mIoU of every runtime on the toy val set (dynamic export, int8
    calibrated on ``calibration``)."""
    val_images, val_labels = load_split(root, "val")
    with paddle.no_grad():
        reference = np.concatenate([paddle.argmax(model(paddle.to_tensor(val_images[i:i + 4]))[0], 1).numpy()
                                    for i in range(0, len(val_images), 4)])
    exported = write_int8_models(write_inference_model(model, str(work_dir), DEFAULT_TRANSFORMS, onnx=True), calibration)
    rows = [{"runtime": "dygraph fp32", "agreement": 1.0, "miou": mean_iou(reference, val_labels, NUM_CLASSES, toy.IGNORE_INDEX)}]
    for runtime_id in [RuntimeId("paddle", "fp32"), RuntimeId("paddle", "bf16"), RuntimeId("onnxruntime", "fp32"),
                       RuntimeId("openvino", "fp32"), RuntimeId("openvino", "bf16"), RuntimeId("onnxruntime", "int8"),
                       RuntimeId("openvino", "int8")]:
        try:
            runtime = create_runtime(exported, runtime_id.backend, precision=runtime_id.precision, threads=threads)
        except BackendUnavailable as reason:  # bf16 on a CPU without bf16 instructions
            rows.append({"runtime": str(runtime_id), "skipped": str(reason)})
            continue
        labels = np.concatenate([runtime(val_images[i:i + 4]) for i in range(0, len(val_images), 4)])
        rows.append({"runtime": str(runtime_id), "agreement": float((labels == reference).mean()),
                     "miou": mean_iou(labels, val_labels, NUM_CLASSES, toy.IGNORE_INDEX)})
    return rows


def camvid_t_weights():
    """``paddleseg`` flags for the CamVid-trained PP-LiteSeg-T this script caches, else for the
    config's initial weights (for speed and memory, which do not depend on them)."""
    trained = sorted((HERE / ".cache").glob("camvid_T_*.pdparams"))
    return ["--model_path", trained[-1]] if trained else ["--opts", "model.backbone.pretrained=None"]


def prepare_camvid_sample(work_dir):
    """The CamVid sample as a dataset: labels with void as 255, the first half to train on, the
    second half to score on (``train.txt``, ``val.txt``); returns its root."""
    from PIL import Image

    root = work_dir / "camvid_sample"
    (root / "labels").mkdir(parents=True, exist_ok=True)
    images = sorted((CAMVID_SAMPLE / "images").glob("*.png"))
    lines = []
    for image in images:
        label = np.asarray(Image.open(CAMVID_SAMPLE / "labels" / image.name))
        target = root / "labels" / image.name
        Image.fromarray(np.where(label == CAMVID_VOID, 255, label).astype(np.uint8)).save(target)
        lines.append(list_line(str(image), str(target), str(root)))
    half = len(lines) // 2
    (root / "train.txt").write_text("\n".join(lines[:half]) + "\n")
    (root / "val.txt").write_text("\n".join(lines[half:]) + "\n")
    return root


def camvid_config(root, variant, iters):
    """The variant's CamVid config, on the sample (scored at its own 480x360), from scratch, short:
    crops of a quarter of a photo at half to full scale, 2 per process (``CAMVID_PROCESSES``)."""
    dataset = {"dataset_root": str(root)}
    return {
        "_base_": str(REPO / "configs" / "camvid" / CAMVID_CONFIGS[variant]),
        "iters": iters, "batch_size": 4 // CAMVID_PROCESSES,
        "model": {"backbone": {"pretrained": None}},
        "train_dataset": dict(dataset, train_path=str(root / "train.txt"), transforms=[
            {"type": "ResizeStepScaling", "min_scale_factor": 0.5, "max_scale_factor": 1.0,
             "scale_step_size": 0.25},
            {"type": "RandomPaddingCrop", "crop_size": [240, 180]},
            {"type": "RandomHorizontalFlip"}, {"type": "Normalize"}]),
        "val_dataset": dict(dataset, val_path=str(root / "val.txt"), transforms=DEFAULT_TRANSFORMS),
        "loss": {"types": [{"type": "CrossEntropyLoss"}], "coef": [1, 1, 1]},
    }


def camvid_quality(model, root, work_dir, threads, repeats):
    """Every backend x precision of ``model`` on the sample's held-out photos: ms, agreement with
    Paddle Inference fp32, mIoU (dynamic-shape export, int8 calibrated on the training half)."""
    pairs = [tuple(str(root / path) for path in line.split()) for line in (root / "val.txt").read_text().splitlines()]
    train_images = [str(root / line.split()[0]) for line in (root / "train.txt").read_text().splitlines()]
    exported = write_int8_models(write_inference_model(model, str(work_dir), DEFAULT_TRANSFORMS, onnx=True),
                                 calibration_images(train_images, DEFAULT_TRANSFORMS, len(train_images)))
    samples = tuning_samples(pairs, exported, len(pairs))
    rows, skipped, input_shape = measure(exported, samples, threads=threads, repeats=repeats)
    choice = pick(rows)
    return {"rows": [row.to_dict() for row in rows], "skipped": skipped, "input_shape": list(input_shape),
            "images": len(samples), "choice": {"backend": choice.backend, "precision": choice.precision},
            "int8_calibration": exported.get(INT8_SCORES_KEY)}


def check(variant, name, measured, op, target):
    """One target: its measured value and verdict (met / NOT met)."""
    met = measured is not None and (measured >= target if op == ">=" else measured <= target)
    return {"variant": variant, "check": name, "target": f"{op} {target}", "measured": measured,
            "verdict": "met" if met else "NOT met"}


def targets(results):
    """The issue's targets with a verdict each, from the 512x1024 rows and the real-photo rows."""
    amx = "amx_bf16" in read_cpu_info().flags
    speedup_target = TARGETS["tuned_speedup_amx"] if amx else TARGETS["tuned_speedup"]
    cpu_kind = "AMX CPU" if amx else "CPU without AMX"
    checks = []
    for variant, runs in results["speed"].items():
        rows = {(row["model"], row["runtime"]): row for row in runs["512x1024"]["rows"]}

        def median(runtime, model="plugin"):
            return rows.get((model, runtime), {}).get("median_ms")

        fp32 = {runtime: row["median_ms"] for (model, runtime), row in rows.items()
                if model == "plugin" and "fp32" in runtime and "off" not in runtime}
        best_fp32_runtime = min(fp32, key=fp32.get)
        int8 = [row["median_ms"] for (model, runtime), row in rows.items()
                if model == "plugin" and "int8" in runtime]
        ratios = [row["vs_reference"] for (model, _), row in rows.items() if model == "plugin"]
        int8_toy = [row["agreement"] for row in results["quality"][variant] if "int8" in row["runtime"]
                    and "agreement" in row]
        checks += [
            check(variant, "plugin / reference latency, worst runtime", max(ratios), "<=", TARGETS["vs_reference"]),
            check(variant, f"best fp32 ({best_fp32_runtime}) GFLOP/s / its own fp32 {GEMM_SIZE} GEMM GFLOP/s",
                  rows[("plugin", best_fp32_runtime)].get("fraction_of_own_gemm"), ">=", TARGETS["of_own_gemm"]),
            check(variant, "paddle oneDNN / onnxruntime fp32 latency (the Paddle-native path; see "
                  "paddle_inference_account.md)",
                  round(median("paddle fp32") / median("onnxruntime fp32"), 3) if median("onnxruntime fp32")
                  else None, "<=", TARGETS["paddle_vs_onnxruntime"]),
            check(variant, "best fp32 / best int8 latency", round(fp32[best_fp32_runtime] / min(int8), 3)
                  if int8 else None, ">=", TARGETS["int8_speedup"]),
            check(variant, "paddle oneDNN off / on latency",
                  round(median("paddle fp32 oneDNN off") / median("paddle fp32"), 3), ">=", TARGETS["onednn_speedup"]),
            check(variant, "int8 pixel agreement with dygraph, toy val, worst runtime",
                  min(int8_toy) if int8_toy else None, ">=", MIN_AGREEMENT),
        ]
        camvid = results.get("camvid", {}).get(variant)
        if camvid:
            by_runtime = {RuntimeId(row["backend"], row["precision"]): row for row in camvid["rows"]}
            reference = by_runtime[RuntimeId("paddle", "fp32")]
            choice = RuntimeId(**camvid["choice"])
            onnxruntime_fp32 = by_runtime.get(RuntimeId("onnxruntime", "fp32"))
            int8_rows = [row for row in camvid["rows"] if row["precision"] == "int8"]
            checks += [
                check(variant, f"tuned choice ({choice}) / onnxruntime fp32 speed-up, real photos, {cpu_kind}",
                      round(onnxruntime_fp32["median_ms"] / by_runtime[choice]["median_ms"], 3)
                      if onnxruntime_fp32 else None, ">=", speedup_target),
                check(variant, "int8 pixel agreement with fp32, real photos, worst runtime",
                      min(row["agreement"] for row in int8_rows) if int8_rows else None, ">=", MIN_AGREEMENT),
                check(variant, "int8 mIoU points lost against fp32, real photos, worst runtime",
                      round(100 * max(reference["miou"] - row["miou"] for row in int8_rows), 2) if int8_rows else None,
                      "<=", 100 * MAX_MIOU_DROP),
            ]
        else:
            agreeing = [row for (model, runtime), row in rows.items() if model == "plugin"
                        and row.get("agreement", 0) >= MIN_AGREEMENT and runtime != "dygraph fp32"]
            fastest = min(agreeing, key=lambda row: row["median_ms"])
            checks.append(check(variant, f"fastest runtime agreeing >= {MIN_AGREEMENT} on toy val ({fastest['runtime']}) / "
                                f"onnxruntime fp32 speed-up, {cpu_kind} (no CamVid sample: toy images)",
                                round(median("onnxruntime fp32") / fastest["median_ms"], 3)
                                if median("onnxruntime fp32") else None, ">=", speedup_target))
    return checks


def write_markdown(results, path):
    env = results["environment"]
    lines = ["# Benchmark results", "",
             f"Generated by `python benchmarks/run_benchmarks.py` on {env['date']}: {env['cpu']}, "
             f"{env['threads']} threads, Paddle {env['paddle']}, onnxruntime {env['onnxruntime']}, "
             f"OpenVINO {env['openvino']}. Batch 1, random input, exported models include the argmax; "
             f"median and p90 of {env['repeats']} interleaved rounds. The machine is shared: other "
             "jobs may have run at the same time, so compare rows within one table.", ""]
    lines += [f"## Targets ({env['cpu_flags']})", "", "| variant | check | target | measured | verdict |",
              "|---|---|---|---|---|"]
    lines += [f"| {c['variant']} | {c['check']} | {c['target']} | {_cell(c['measured'])} | **{c['verdict']}** |"
              for c in results["targets"]]
    for variant, runs in results["speed"].items():
        for resolution, run in runs.items():
            lines += ["", f"## PP-LiteSeg-{variant}, 1x3x{resolution}", "",
                      f"fp32 GEMM rate ({GEMM_SIZE}x{GEMM_SIZE}, {run['machine']['threads']} threads): "
                      f"{run['machine']['gemm_gflops']} GFLOP/s; model: "
                      f"{run['models']['plugin']['params'] / 1e6:.2f} M params, "
                      f"{run['models']['plugin']['gflops']} GFLOPs", "",
                      "| model | runtime | median ms | p90 ms | FPS | GFLOP/s | of fp32 GEMM | its GEMM GFLOP/s "
                      "| of its GEMM | agreement (toy val) | vs reference |", "|---|---|---|---|---|---|---|---|---|---|---|"]
            lines += [f"| {r['model']} | {r['runtime']} | {r['median_ms']} | {r['p90_ms']} | {r['fps']} | "
                      f"{r['gflops_per_s']} | {r['fraction_of_gemm']} | {_cell(r.get('own_gemm_gflops'))} | "
                      f"{_cell(r.get('fraction_of_own_gemm'))} | {_cell(r.get('agreement'))} | "
                      f"{r['vs_reference']} |" for r in run["rows"]]
            lines += [f"skipped {name}: {reason}" for name, reason in run["skipped"].items()]
    for variant, rows in results["quality"].items():
        lines += ["", f"## PP-LiteSeg-{variant} on the toy val set ({TOY_SIZE[0]}x{TOY_SIZE[1]}, "
                  "dynamic-shape export)", "", "| runtime | pixel agreement with dygraph | mIoU |",
                  "|---|---|---|"]
        lines += [f"| {row['runtime']} | {row['agreement']:.5f} | {row['miou']:.4f} |" for row in rows
                  if "skipped" not in row]
        lines += [f"skipped {row['runtime']}: {row['skipped']}" for row in rows if "skipped" in row]
    for variant, run in results.get("camvid", {}).items():
        lines += ["", f"## PP-LiteSeg-{variant} on real photos: {run['images']} held-out CamVid sample images "
                  f"({'x'.join(map(str, run['input_shape']))}), trained briefly on the other half", "",
                  "| backend | precision | median ms | pixel agreement with paddle fp32 | mIoU |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['backend']} | {r['precision']} | {r['median_ms']} | {r['agreement']} | {r['miou']} |"
                  for r in sorted(run["rows"], key=lambda r: r["median_ms"])]
        lines += [f"skipped {name}: {reason}" for name, reason in run["skipped"].items()]
        lines.append(f"`paddleseg tune`'s choice (agreement >= {MIN_AGREEMENT}, <= {100 * MAX_MIOU_DROP:g} mIoU points "
                     f"lost): {RuntimeId(**run['choice'])}")
        lines += ["", f"int8 models written by export, measured on the calibration (training) half; each runtime "
                  f"runs the fastest agreeing >= {MIN_AGREEMENT}, else the most agreeing, leaving out files slower than fp32 "
                  "(the model.onnx row, where measured):", "",
                  "| runtime | int8 model | agreement with fp32 | ms |", "|---|---|---|---|"]
        lines += [f"| {backend} | {name} | {score['agreement']} | {score['ms']} |"
                  for backend, files in run["int8_calibration"].items() for name, score in files.items()]
    lines += ["", "![speed vs resolution](speed_vs_resolution.png)", ""]
    kept = kept_sections(path)  # the other benchmark scripts' sections
    path.write_text("\n".join(lines) + ("\n" + kept if kept else ""))


def _cell(value):
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


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

    info = read_cpu_info()
    cpu = info.model or platform.processor() or platform.machine()
    isa = info.flags
    flags = [flag for flag in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8") if flag in isa]
    return {"date": datetime.date.today().isoformat(), "cpu": cpu, "cpu_flags": " ".join(flags) or "no AVX2",
            "threads": threads,
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
    parser.add_argument("--render", action="store_true",
                        help="Only rewrite results.md and the plot from results.json (the verdicts "
                             "recomputed; nothing measured again).")
    parser.add_argument("--camvid_iters", type=int, default=600,
                        help=f"Training iterations on the CamVid sample ({CAMVID_SAMPLE}), where it exists.")
    args = parser.parse_args()
    if args.render:
        results = json.loads((HERE / "results.json").read_text())
        results["targets"] = targets(results)
        return report(results)

    work = Path(args.work_dir)
    root = work / "toy_data"
    if not (root / toy.METADATA_FILE).exists():
        toy.make_toy_dataset(root, num_train=120, num_val=16, size=TOY_SIZE, num_classes=NUM_CLASSES)
    train_images, _ = load_split(root, "train")
    val_images, _ = load_split(root, "val")
    calibration = list(spread(train_images))
    camvid_root = prepare_camvid_sample(work) if CAMVID_SAMPLE.is_dir() else None
    results = {"environment": environment(args.threads, args.repeats), "speed": {}, "quality": {}, "camvid": {}}
    for variant in args.variants:
        model = trained_model(root, variant, args.train_iters, work)
        results["quality"][variant] = quality(model, root, work / f"quality_{variant}", args.threads,
                                               calibration)
        if camvid_root:
            print(f"PP-LiteSeg-{variant} on the CamVid sample ...", flush=True)
            camvid_model = trained_model(camvid_root, variant, args.camvid_iters, work, name="camvid",
                                         config=camvid_config(camvid_root, variant, args.camvid_iters),
                                         processes=CAMVID_PROCESSES)
            results["camvid"][variant] = camvid_quality(camvid_model, camvid_root, work / f"camvid_{variant}",
                                                        args.threads, args.repeats)
        results["speed"][variant] = {}
        for resolution in args.resolutions:
            height, width = (int(v) for v in resolution.split("x"))
            print(f"PP-LiteSeg-{variant} at {resolution} ...", flush=True)
            results["speed"][variant][resolution] = benchmark(
                model, (1, 3, height, width), reference=True, threads=args.threads,
                repeats=args.repeats, warmup=args.warmup,
                calibration_images=calibration, work_dir=str(work), agreement_images=list(val_images)).to_dict()
    if all("512x1024" in runs for runs in results["speed"].values()):
        results["targets"] = targets(results)
    else:
        results["targets"] = []
    report(results)


def report(results):
    """results.json, results.md and the plot from ``results``."""
    (HERE / "results.json").write_text(json.dumps(results, indent=2, default=str))
    write_markdown(results, HERE / "results.md")
    plot(results, HERE / "speed_vs_resolution.png")
    print((HERE / "results.md").read_text())


if __name__ == "__main__":
    main()
