"""Which int8 keeps the fp32 answer, and how fast it runs: export's fixed recipes and the accuracy-aware search.

    python benchmarks/int8_recipes.py                    # T and B, trained on the CamVid sample
    python benchmarks/int8_recipes.py --search_seconds 120 --variants T

For PP-LiteSeg-T and -B trained on half of the CamVid sample (``run_benchmarks.py``'s training
and cache: a model missing from the cache is trained first, ``--camvid_iters`` iterations), on
the other half (held out, with labels), on this machine: each int8 model on each int8 runtime
(onnxruntime, OpenVINO), its pixel agreement with onnxruntime fp32, its mIoU and its latency
(interleaved rounds, median, batch 1, the photos' own size). The models are export's three fixed
recipes and, per runtime, ``int8_search`` from each recipe faster than fp32 there, fastest first,
sharing ``--search_seconds`` (as ``paddleseg export --int8`` searches). Then, as a user would,
``paddleseg export --onnx --int8 --tune`` of the same model, with tune's own table.

Verdicts, per variant: some int8 model agrees >= 0.99 with fp32 and loses <= 0.5 mIoU points, and
the fastest such runs >= 1.4x onnxruntime fp32; on export's and tune's own measurements, an int8
runtime within that bar, and ``infer``'s tuned choice (int8, or bf16 where that measures faster,
within the same bar) >= 1.4x onnxruntime fp32.
``--weights_7bit`` quantizes with the 7-bit weights a CPU without VNNI (AVX2) needs, to measure
here what such a CPU keeps of the fp32 answer (its speed is not this CPU's). Keeps the
measurements in int8_recipes.json per CPU and variant (a run replaces only this CPU's variants it
measured), writes the "int8 recipes" section of results.md from it, one part per CPU, and prints it.
"""
import argparse
import datetime
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

from paddleseg_liteseg.cli import main as paddleseg
from paddleseg_liteseg.deploy import ExportedModel, create_runtime
from paddleseg_liteseg.deploy.running.cpu_features import read_cpu_info
from paddleseg_liteseg.deploy.exporting.export import write_inference_model
from paddleseg_liteseg.deploy.exporting.exported_model import DEFAULT_TRANSFORMS
from paddleseg_liteseg.deploy.running.inference_timing import seconds, time_interleaved
from paddleseg_liteseg.deploy.int8.int8_choice import search_starts
from paddleseg_liteseg.deploy.int8.agreement import MAX_MIOU_DROP, MIN_AGREEMENT
from paddleseg_liteseg.deploy.int8.int8_search import INT8_SEARCH_SECONDS, search_from_recipes
from paddleseg_liteseg.deploy.exporting.model_files import (INT8_SEARCH_KEY, ONNX_INT8_KEY, OPENVINO_INT8_KEY, RECIPE_FILES)
from paddleseg_liteseg.deploy.running.tuning_file import read_entries
from paddleseg_liteseg.deploy.int8.quantize import (CALIBRATION_IMAGES, calibration_images, fold_batch_norms, labelled_images, quantize_nncf, quantize_onnx)
from paddleseg_liteseg.evaluation.confusion import mean_iou
from report_sections import replace_section
from run_benchmarks import (CAMVID_PROCESSES, CAMVID_SAMPLE, camvid_config, prepare_camvid_sample, trained_checkpoint,
                            trained_model)

HERE = Path(__file__).resolve().parent
RUNTIME_KEYS = {"onnxruntime": ONNX_INT8_KEY, "openvino": OPENVINO_INT8_KEY}
NUM_CLASSES = 11  # CamVid's
IGNORE_INDEX = 255
MIN_SPEEDUP = 1.4
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "avx512_bf16", "amx_bf16")


def split(root, name):
    """(image, label) paths of a split of the prepared sample."""
    lines = (root / f"{name}.txt").read_text().splitlines()
    return [tuple(str(root / path) for path in line.split()) for line in lines]


def recipe_models(model_dir, onnx_file, calibration, reduce_range):
    """Export's three fixed int8 models in ``model_dir``: {recipe: file}."""
    folded = fold_batch_norms(onnx_file, os.path.join(model_dir, "folded.onnx"))
    return {"onnxruntime": quantize_onnx(folded, os.path.join(model_dir, RECIPE_FILES["onnxruntime"]), calibration,
                                         reduce_range=reduce_range),
            "onnxruntime_conv": quantize_onnx(folded, os.path.join(model_dir, RECIPE_FILES["onnxruntime_conv"]),
                                              calibration, convolutions_only=True, reduce_range=reduce_range),
            "nncf": quantize_nncf(onnx_file, os.path.join(model_dir, RECIPE_FILES["nncf"]), calibration,
                                  reduce_range=reduce_range)}


def int8_runtime(model_dir, runtime, file, threads):
    model = ExportedModel(model_dir, {"onnx": "model.onnx", RUNTIME_KEYS[runtime]: os.path.basename(file)})
    return create_runtime(model, runtime,
                          precision="int8", threads=threads)


def labels_of(runtime, images):
    return [runtime(image[np.newaxis])[0] for image in images]


def measure(variant, model, root, work, args):
    """Every int8 model of ``variant`` on every int8 runtime: rows of agreement, mIoU, ms."""
    model_dir = work / f"int8_recipes_{variant}{'_7bit' if args.weights_7bit else ''}"
    write_inference_model(model, str(model_dir), DEFAULT_TRANSFORMS, onnx=True)
    onnx_file = str(model_dir / "model.onnx")
    calibration = calibration_images([image for image, _ in split(root, "train")], DEFAULT_TRANSFORMS,
                                     CALIBRATION_IMAGES)
    images, labels = labelled_images(split(root, "val"), DEFAULT_TRANSFORMS, CALIBRATION_IMAGES)
    fp32 = {name: create_runtime(ExportedModel(model_dir, {"onnx": "model.onnx"}), name, threads=args.threads)
            for name in RUNTIME_KEYS}
    expected = labels_of(fp32["onnxruntime"], images)
    reference_miou = mean_iou(expected, labels, NUM_CLASSES, IGNORE_INDEX)
    rows = [{"runtime": name, "model": "fp32", "runtime_object": runtime} for name, runtime in fp32.items()]
    reduce_range = True if args.weights_7bit else None
    recipes = recipe_models(str(model_dir), onnx_file, calibration, reduce_range)
    searches = {}
    for runtime in RUNTIME_KEYS:
        for recipe, file in recipes.items():
            rows.append({"runtime": runtime, "model": recipe, "fp32_layers": "first conv, classifier"
                         if recipe != "onnxruntime" else "-",
                         "runtime_object": int8_runtime(str(model_dir), runtime, file, args.threads)})
        print(f"PP-LiteSeg-{variant}: searching for {runtime} ...", flush=True)
        batch = images[0][np.newaxis]
        milliseconds = {os.path.basename(file): _milliseconds(row["runtime_object"], batch)
                        for file, row in zip(recipes.values(), rows[-len(recipes):])}
        milliseconds["model.onnx"] = _milliseconds(fp32[runtime], batch)
        found = search_from_recipes(onnx_file, str(model_dir / f"search_{runtime}_{{recipe}}.onnx"),
                                    search_starts(milliseconds, "model.onnx"), runtime, calibration, images,
                                    args.search_seconds, labels=labels, min_agreement=MIN_AGREEMENT,
                                    max_miou_drop=MAX_MIOU_DROP, ignore_index=IGNORE_INDEX, threads=args.threads,
                                    reduce_range=reduce_range)
        searches[runtime] = found
        rows += [{"runtime": runtime, "model": f"search from {recipe}",
                  "fp32_layers": f"{len(result.recipe_fp32_layers)} + {len(result.fp32_layers)}",
                  "runtime_object": int8_runtime(str(model_dir), runtime, result.int8_file, args.threads)}
                 for recipe, result in found.items()]
    for row in rows:
        predicted = labels_of(row["runtime_object"], images)
        row["agreement"] = _agreement(predicted, expected)
        row["miou"] = mean_iou(predicted, labels, NUM_CLASSES, IGNORE_INDEX)
        row["miou_drop_points"] = round(100 * (reference_miou - row["miou"]), 2)
    batch = images[0][np.newaxis]
    times = time_interleaved({index: (lambda runtime=row["runtime_object"]: runtime(batch))
                              for index, row in enumerate(rows)}, args.repeats, args.warmup)
    for index, row in enumerate(rows):
        row["ms"] = round(1000 * statistics.median(times[index]), 2)
        del row["runtime_object"]
    return {"rows": rows, "searches": {runtime: {recipe: result.as_dict() for recipe, result in found.items()}
                                       for runtime, found in searches.items()},
            "input_shape": list(batch.shape), "images": len(images), "calibration_images": len(calibration),
            "date": datetime.date.today().isoformat(), "threads": args.threads, "repeats": args.repeats,
            "search_seconds": args.search_seconds}


def cpu_label():
    """This CPU as the results name it: model and the flags int8 and bf16 speed depend on."""
    cpu = read_cpu_info()
    return f"{cpu.model} ({' '.join(flag for flag in FLAGS if flag in cpu.flags) or 'no AVX2'})"


def export_and_tune(variant, root, work, args):
    """``paddleseg export --onnx --int8 --tune`` of the variant's CamVid model, as a user runs it
    (int8 calibrated on the training half, agreement and tuning on the held-out half): tune's
    table and choice (what ``infer`` runs) and the int8 searches deploy.yaml records."""
    config, checkpoint = trained_checkpoint(root, variant, args.camvid_iters, work, name="camvid",
                                            config=camvid_config(root, variant, args.camvid_iters),
                                            processes=CAMVID_PROCESSES)
    save_dir = work / f"export_tune_{variant}"
    print(f"PP-LiteSeg-{variant}: paddleseg export --onnx --int8 --tune ...", flush=True)
    if paddleseg(["export", "--config", str(config), "--model_path", str(checkpoint), "--save_dir", str(save_dir),
                  "--onnx", "--int8", "--tune", "--int8_search_seconds", str(args.search_seconds)]):
        sys.exit(f"paddleseg export failed for PP-LiteSeg-{variant}")
    entry = read_entries(save_dir)[-1].to_dict()
    return {"rows": entry["rows"], "choice": entry["choice"], "images": entry["images"],
            "input_shape": entry["key"]["input_shape"],
            "int8_search": ExportedModel.read(save_dir).deploy.get(INT8_SEARCH_KEY, {})}


def _milliseconds(runtime, batch):
    """Best of three runs, in ms: enough to order the search's starts by speed."""
    return min(seconds(runtime, batch) for _ in range(3)) * 1000


def _agreement(predicted, expected):
    return round(float(np.mean([(a == b).mean() for a, b in zip(predicted, expected)])), 5)


def verdicts(variant, run):
    """The issue's two checks for ``variant``: some int8 within the bar, and its speed-up."""
    fp32_ms = next(row["ms"] for row in run["rows"] if (row["runtime"], row["model"]) == ("onnxruntime", "fp32"))
    int8 = [row for row in run["rows"] if row["model"] != "fp32"]
    within = [row for row in int8
              if row["agreement"] >= MIN_AGREEMENT and row["miou_drop_points"] <= 100 * MAX_MIOU_DROP]
    chosen = min(within, key=lambda row: row["ms"]) if within else None
    best = max(int8, key=lambda row: row["agreement"])
    speedup = round(fp32_ms / chosen["ms"], 2) if chosen else None
    return [
        (variant, f"an int8 model agrees >= {MIN_AGREEMENT} and loses <= {100 * MAX_MIOU_DROP} mIoU points",
         f"{chosen['runtime']} {chosen['model']}: agreement {chosen['agreement']}, "
         f"{chosen['miou_drop_points']} points lost" if chosen else
         f"best: {best['runtime']} {best['model']}: agreement {best['agreement']}, "
         f"{best['miou_drop_points']} points lost",
         "met" if chosen else "NOT met"),
        (variant, f"that int8 (the fastest within the bar) / onnxruntime fp32 speed-up >= {MIN_SPEEDUP}"
         + (" (7-bit weights timed on this CPU, not on an AVX2 one)" if variant.endswith("7-bit") else ""),
         f"{speedup}x" if chosen else "no int8 within the bar",
         "met" if speedup and speedup >= MIN_SPEEDUP else "NOT met"),
    ]


def export_verdicts(variant, run):
    """The issue's two checks on ``export --int8 --tune``'s own measurements (tune's table)."""
    rows = run["rows"]
    reference = next(row for row in rows if (row["backend"], row["precision"]) == ("paddle", "fp32"))
    onnxruntime_fp32 = next(row for row in rows if (row["backend"], row["precision"]) == ("onnxruntime", "fp32"))
    choice = next(row for row in rows if (row["backend"], row["precision"]) == tuple(run["choice"].values()))
    int8 = [dict(row, miou_drop_points=round(100 * (reference["miou"] - row["miou"]), 2))
            for row in rows if row["precision"] == "int8"]
    within = [row for row in int8 if row["agreement"] >= MIN_AGREEMENT
              and row["miou_drop_points"] <= 100 * MAX_MIOU_DROP]
    best = max(int8, key=lambda row: row["agreement"]) if int8 else None
    shown = min(within, key=lambda row: row["median_ms"]) if within else best
    speedup = round(onnxruntime_fp32["median_ms"] / choice["median_ms"], 2)
    return [
        (variant, f"export --int8 --tune: an int8 model agrees >= {MIN_AGREEMENT} with fp32 and loses "
         f"<= {100 * MAX_MIOU_DROP} mIoU points",
         f"{shown['backend']} int8: agreement {shown['agreement']}, {shown['miou_drop_points']} points lost"
         if shown else "no int8 runtime", "met" if within else "NOT met"),
        (variant, f"infer (auto, tuned: {choice['backend']} {choice['precision']}) / onnxruntime fp32 "
         f"speed-up >= {MIN_SPEEDUP}", f"{speedup}x",
         "met" if speedup >= MIN_SPEEDUP else "NOT met"),
    ]


def markdown(results_per_cpu):
    lines = ["## int8 recipes: agreement, mIoU and speed on held-out CamVid photos", "",
             "Generated by `python benchmarks/int8_recipes.py`, one part per CPU it ran on. PP-LiteSeg-T and -B "
             "trained briefly on half of the CamVid sample (`run_benchmarks.py`'s models), scored on the other half: "
             f"pixel agreement with onnxruntime fp32, mIoU ({NUM_CLASSES} classes), median latency of interleaved "
             "rounds at batch 1. fp32 layers: those kept fp32 by the recipe + by the search. The searches start from "
             "each recipe faster than fp32 on that runtime, fastest first. The machine is shared: compare rows within "
             "one table."]
    for cpu, results in results_per_cpu.items():
        lines += ["", f"### {cpu}", ""] + cpu_markdown(results)
        if "amx" in cpu:
            lines += ["", f"This CPU has AMX: the {MIN_SPEEDUP}x speed-up bar is set for CPUs without it."]
    return "\n".join(lines)


def cpu_markdown(results):
    """One CPU's verdicts and, per variant, its tables."""
    lines = ["| variant | check | measured | verdict |", "|---|---|---|---|"]
    lines += [f"| PP-LiteSeg-{v} | {check} | {measured} | **{verdict}** |"
              for variant, run in results.items() for v, check, measured, verdict in verdicts(variant, run)
              + (export_verdicts(variant, run["export_tune"]) if "export_tune" in run else [])]
    for variant, run in results.items():
        fp32_ms = next(row["ms"] for row in run["rows"] if (row["runtime"], row["model"]) == ("onnxruntime", "fp32"))
        lines += ["", f"#### PP-LiteSeg-{variant}, {run['images']} held-out photos "
                  f"({'x'.join(map(str, run['input_shape']))}), calibrated on {run['calibration_images']}", "",
                  f"{run['date']}, {run['threads']} threads, median of {run['repeats']} rounds, "
                  f"searches limited to {run['search_seconds']:g} s per runtime.", "",
                  "| runtime | model | fp32 layers | agreement with fp32 | mIoU | mIoU points lost | median ms | "
                  "onnxruntime fp32 / this |", "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {row['runtime']} | {row['model']} | {row.get('fp32_layers', 'all')} | {row['agreement']} | "
                  f"{row['miou']:.4f} | {row['miou_drop_points']} | {row['ms']} | {fp32_ms / row['ms']:.2f} |"
                  for row in run["rows"]]
        lines += ["", "| search on | from | options | layers ranked | fp32 layers added | stopped | models tried | "
                  "seconds |", "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {runtime} | {recipe} | {result['options'] or 'defaults'} | {result['ranked_layers']} | "
                  f"{', '.join(result['fp32_layers']) or '-'} | {result['stopped']} | {result['models']} | "
                  f"{result['seconds']} |" for runtime, found in run["searches"].items()
                  for recipe, result in _by_recipe(found).items()]
        if "export_tune" in run:
            lines += export_markdown(variant, run["export_tune"])
    return lines


def export_markdown(variant, run):
    """``export --int8 --tune``'s table (tune's timings and scores) and deploy.yaml's searches."""
    lines = ["", f"##### PP-LiteSeg-{variant}: `paddleseg export --onnx --int8 --tune`, then tune's table "
             f"({run['images']} held-out photos, {'x'.join(map(str, run['input_shape']))})", "",
             "| backend | precision | median ms | agreement with Paddle fp32 | mIoU | within the limits |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {row['backend']} | {row['precision']} | {row['median_ms']} | {row['agreement']} | "
              f"{row.get('miou', '-')} | {'yes' if row['eligible'] else 'no: ' + row['why_not']} |"
              for row in sorted(run["rows"], key=lambda row: row["median_ms"])]
    lines += ["", f"Chosen (what `infer` runs): {run['choice']['backend']} {run['choice']['precision']}."]
    searches = [(runtime, recipe, result) for runtime, found in run["int8_search"].items()
                for recipe, result in found.items()]
    if searches:
        lines += ["", "| export's search on | from | fp32 layers added | agreement | mIoU points lost | met | seconds |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {runtime} | {recipe} | {len(result['fp32_layers'])} | {result['agreement']} | "
                  f"{'-' if result['miou_drop'] is None else round(100 * result['miou_drop'], 2)} | {result['met']} | {result['seconds']} |"
                  for runtime, recipe, result in searches]
    return lines


def _by_recipe(found):
    """{recipe: search} of a runtime's searches (runs before searches started from every recipe
    kept one search, with its recipe inside)."""
    return {found["recipe"]: found} if "recipe" in found else found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["T", "B"], choices=["T", "B"])
    parser.add_argument("--search_seconds", type=float, default=INT8_SEARCH_SECONDS,
                        help="Per runtime, the searches' time in all.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--weights_7bit", action="store_true",
                        help="Quantize with 7-bit weights, as for a CPU without VNNI (kept as variant 'T 7-bit').")
    parser.add_argument("--render", action="store_true",
                        help="Only rewrite the results.md section from int8_recipes.json (nothing measured).")
    parser.add_argument("--camvid_iters", type=int, default=600, help="As run_benchmarks.py's (its cache key).")
    parser.add_argument("--work_dir", default=str(HERE / ".cache"), help="run_benchmarks.py's --work_dir.")
    args = parser.parse_args()
    saved = HERE / "int8_recipes.json"
    results = json.loads(saved.read_text()) if saved.exists() else {}
    if not args.render:
        if not CAMVID_SAMPLE.is_dir():
            sys.exit(f"{CAMVID_SAMPLE} not found: this benchmark needs the CamVid sample")
        work = Path(args.work_dir)
        root = prepare_camvid_sample(work)
        here = results.setdefault(cpu_label(), {})
        for variant in args.variants:
            model = trained_model(root, variant, args.camvid_iters, work, name="camvid",
                                  config=camvid_config(root, variant, args.camvid_iters), processes=CAMVID_PROCESSES)
            run = measure(variant, model, root, work, args)
            if not args.weights_7bit:  # export measures with the CPU's own weight range
                run["export_tune"] = export_and_tune(variant, root, work, args)
            here[variant + (" 7-bit" if args.weights_7bit else "")] = run
            saved.write_text(json.dumps(results, indent=2))
    text = markdown({cpu: {variant: runs[variant] for variant in ("T", "B", "T 7-bit", "B 7-bit") if variant in runs}
                     for cpu, runs in results.items()})
    replace_section(HERE / "results.md", "int8 recipes", text)
    print(text)


if __name__ == "__main__":
    main()
