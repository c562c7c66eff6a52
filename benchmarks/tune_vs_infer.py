"""Does the speed-up ``paddleseg tune`` measured hold when each runtime runs alone, as ``infer`` runs it?

    python benchmarks/tune_vs_infer.py
    python benchmarks/tune_vs_infer.py --resolution 512x1024 --tune_seconds 120 --infer_rounds 3

Trains PP-LiteSeg-T on the toy data (``run_benchmarks.py``'s training and cache), exports it with
``paddleseg export --onnx --int8`` and tunes it with ``paddleseg tune`` on the toy val images
(resized to ``--resolution``, with labels), as a user would. Then ``paddleseg infer`` runs, each
in its own process and in turn (``--infer_rounds`` times), with ``--backend X --precision Y``: the
exact reference (tune's fastest fp32 row), tune's choice and every other lossy runtime within the
limits, on the same images and threads. Each process's model ms/image (median) comes from infer's
``Speed:`` line.

For each runtime: its speed-up over the exact reference in tune's table (the medians) with the
interval tune's spread allows (the reference's 95% interval of the median over the runtime's,
end against end), and in infer (medians over the processes). Verdict: the chosen runtime's
speed-up in infer lies within tune's interval. tune waits before each timed call as long as
infer's own work on an image takes (reading, preprocessing, writing), since a runtime whose
threads or matrix units go idle in between pays for it on each call. Writes the "tune vs infer"
section of results.md and prints it.
"""
import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2

from paddleseg_liteseg.datasets import toy
from paddleseg_liteseg.deploy.running.cpu_features import read_cpu_info
from paddleseg_liteseg.deploy.measuring.tune import MIN_LOSSY_GAIN, format_entry, is_exact
from paddleseg_liteseg.deploy.running.tuning_file import read_entries
from report_sections import replace_section
from run_benchmarks import NUM_CLASSES, TOY_SIZE, trained_checkpoint

HERE = Path(__file__).resolve().parent
SPEED = re.compile(r"^Speed: (\d+) images, model (\d+\.\d) ms/image \(median\)", re.MULTILINE)
SECTION = "tune vs infer"


def paddleseg(*args, log):
    """Run ``paddleseg`` in its own process; its output, echoed to ``log`` (the prepared command's errors exit)."""
    command = [sys.executable, "-m", "paddleseg_liteseg", *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True)
    log.write(f"$ paddleseg {' '.join(map(str, args))}\n{result.stdout}{result.stderr}\n")
    log.flush()
    if result.returncode:
        sys.exit(f"paddleseg {args[0]} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def resized_val_set(root, target, height, width):
    """The toy val images and labels at ``height`` x ``width`` in ``target``, with a ``val.txt`` list."""
    lines = []
    (target / "images").mkdir(parents=True, exist_ok=True)
    (target / "labels").mkdir(exist_ok=True)
    for line in (root / "val.txt").read_text().split("\n"):
        if not line.strip():
            continue
        image_path, label_path = (root / path for path in line.split())
        name = image_path.name.replace("_leftImg8bit", "")
        cv2.imwrite(str(target / "images" / name),
                    cv2.resize(cv2.imread(str(image_path)), (width, height), interpolation=cv2.INTER_LINEAR))
        cv2.imwrite(str(target / "labels" / name),
                    cv2.resize(cv2.imread(str(label_path), cv2.IMREAD_UNCHANGED), (width, height),
                               interpolation=cv2.INTER_NEAREST))
        lines.append(f"images/{name} labels/{name}")
    (target / "val.txt").write_text("\n".join(lines) + "\n")
    return target / "val.txt"


def infer_ms(model_dir, images, runtime, threads, save_dir, log):
    """infer's model ms/image (median) for ``runtime`` (backend, precision), in a process of its own."""
    output = paddleseg("infer", "--model_dir", model_dir, "--image_path", images, "--save_dir", save_dir,
                       "--backend", runtime[0], "--precision", runtime[1], "--cpu_threads", threads, log=log)
    return float(SPEED.search(output).group(2))


def compare(entry, infer_runs):
    """One line a runtime infer ran: tune's speed-up over the exact reference, its interval, infer's."""
    rows = {(row.backend, row.precision): row for row in entry.rows}
    exact = min((row for row in entry.rows if row.eligible and is_exact(row)), key=lambda row: row.median_ms)
    exact_id = (exact.backend, exact.precision)
    infer_exact = statistics.median(infer_runs[exact_id])
    lines = []
    for runtime, runs in infer_runs.items():
        row = rows[runtime]
        (low, high), (exact_low, exact_high) = row.median_interval_ms, exact.median_interval_ms
        tune_interval = (exact_low / high, exact_high / low)
        infer_speedup = infer_exact / statistics.median(runs)
        lines.append({"runtime": runtime, "exact": runtime == exact_id,
                      "chosen": runtime == (entry.choice.backend, entry.choice.precision),
                      "tune": exact.median_ms / row.median_ms, "interval": tune_interval,
                      "infer_ms": runs, "infer": infer_speedup,
                      "within": tune_interval[0] <= infer_speedup <= tune_interval[1]})
    return exact_id, lines


def markdown(entry, exact_id, lines, settings):
    """The section: settings, tune's own table, the comparison and the verdicts."""
    chosen = next(line for line in lines if line["chosen"])
    name = " ".join  # a (backend, precision) in words
    text = ["## tune vs infer: the speed-up tune measured, run alone by infer", "",
            f"Generated by `python benchmarks/tune_vs_infer.py` on {settings['date']}: {settings['cpu']}, "
            f"{settings['threads']} threads, PP-LiteSeg-T trained {settings['train_iters']} iterations on the toy "
            f"data, `paddleseg export --onnx --int8`, `paddleseg tune` on {entry.images} toy val images at "
            f"{settings['resolution']} (labelled), then `paddleseg infer` on {settings['infer_images']} images, "
            f"one process a runtime and round, {settings['infer_rounds']} rounds in turn. The machine is shared "
            f"with other jobs: load average {settings['load_before']} before, {settings['load_after']} after "
            f"(on {os.cpu_count()} cores), so the times carry that load. tune runs each runtime untimed for a "
            "tenth of a second, waits as long as infer's own work on an image takes, then times one call.", "",
            "tune's table:", "", "```", format_entry(entry), "```", "",
            f"Speed-up over the exact reference ({name(exact_id)}, tune's fastest fp32); tune's interval: the "
            "reference's 95% interval of the median over the runtime's, end against end:", "",
            "| runtime | tune speed-up | tune interval | infer ms/image (each process) | infer speed-up | within |",
            "|---|---|---|---|---|---|"]
    for line in lines:
        label = name(line["runtime"]) + (" (chosen)" if line["chosen"] else "") + (" (exact)" if line["exact"] else "")
        text.append(f"| {label} | {line['tune']:.2f}x | {line['interval'][0]:.2f} .. {line['interval'][1]:.2f} | "
                    f"{', '.join(f'{ms:.1f}' for ms in line['infer_ms'])} | {line['infer']:.2f}x | "
                    f"{'yes' if line['within'] else 'no'} |")
    others = [line for line in lines if not line["chosen"] and not line["exact"]]
    text += ["", f"- **{'met' if chosen['within'] else 'NOT met'}**: the chosen runtime ({name(chosen['runtime'])}) "
             f"runs {chosen['infer']:.2f}x the exact reference's speed in infer, tune said {chosen['tune']:.2f}x "
             f"({chosen['interval'][0]:.2f} .. {chosen['interval'][1]:.2f})."]
    if others:
        outside = [name(line["runtime"]) for line in others if not line["within"]]
        text.append(f"- The other lossy runtimes within the limits: infer's speed-up within tune's interval for "
                    f"{len(others) - len(outside)} of {len(others)}"
                    + (f" (not: {', '.join(outside)})." if outside else "."))
    widest = max(lines, key=lambda line: max(line["infer_ms"]) / min(line["infer_ms"]))
    text.append(f"- infer's processes of one runtime differ by up to {max(widest['infer_ms']) / min(widest['infer_ms']):.2f}x "
                f"({name(widest['runtime'])}: slowest over fastest process), tune's interval of that runtime spans "
                f"{widest['interval'][1] / widest['interval'][0]:.2f}x.")
    if not chosen["exact"]:
        gained = chosen["infer"] >= 1 + MIN_LOSSY_GAIN
        text.append(f"- In infer the lossy choice gains {'at least' if gained else 'less than'} the "
                    f"{MIN_LOSSY_GAIN:.0%} tune asks of it.")
    return "\n".join(text) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", default="256x512", help="HxW the val images are resized to (tune and infer).")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train_iters", type=int, default=300)
    parser.add_argument("--tune_seconds", type=float, default=60, help="tune's --tune_seconds.")
    parser.add_argument("--infer_rounds", type=int, default=3, help="infer processes per runtime, in turn.")
    parser.add_argument("--infer_images", type=int, default=48, help="Images per infer process (the val set over).")
    parser.add_argument("--work_dir", default=str(HERE / ".cache"), help="run_benchmarks.py's --work_dir.")
    args = parser.parse_args()
    height, width = (int(size) for size in args.resolution.split("x"))
    work = Path(args.work_dir)
    root = work / "toy_data"
    if not (root / toy.METADATA_FILE).exists():
        toy.make_toy_dataset(root, num_train=120, num_val=16, size=TOY_SIZE, num_classes=NUM_CLASSES)
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    config, checkpoint = trained_checkpoint(root, "T", args.train_iters, work)
    target = work / "tune_vs_infer"
    model_dir = target / "model"
    labels = resized_val_set(root, target / f"val_{height}x{width}", height, width)
    images = labels.with_name("infer.txt")
    lines = labels.read_text().split()[::2]
    images.write_text("".join(f"{lines[index % len(lines)]}\n" for index in range(args.infer_images)))
    with open(target / "log.txt", "w") as log:
        print("paddleseg export --onnx --int8 ...", flush=True)
        paddleseg("export", "--config", config, "--model_path", checkpoint, "--save_dir", model_dir, "--onnx",
                  "--int8", "--calib_num", 16, "--int8_search_seconds", 30, log=log)
        print("paddleseg tune ...", flush=True)
        start = time.perf_counter()
        paddleseg("tune", "--model_dir", model_dir, "--tune_labels", labels, "--cpu_threads", args.threads,
                  "--tune_seconds", args.tune_seconds, log=log)
        tune_seconds = time.perf_counter() - start
        entry = read_entries(model_dir)[-1]
        exact = min((row for row in entry.rows if row.eligible and is_exact(row)), key=lambda row: row.median_ms)
        runtimes = [(exact.backend, exact.precision), (entry.choice.backend, entry.choice.precision)]
        runtimes += [(row.backend, row.precision) for row in entry.rows
                     if row.eligible and not is_exact(row) and (row.backend, row.precision) not in runtimes]
        infer_runs = {runtime: [] for runtime in dict.fromkeys(runtimes)}
        for round_index in range(args.infer_rounds):
            order = list(infer_runs)
            order = order[round_index % len(order):] + order[:round_index % len(order)]
            for runtime in order:
                print(f"paddleseg infer --backend {runtime[0]} --precision {runtime[1]} ...", flush=True)
                infer_runs[runtime].append(infer_ms(model_dir, images, runtime, args.threads, target / "out", log))
    settings = {"date": datetime.date.today().isoformat(), "cpu": read_cpu_info().model, "threads": args.threads,
                "train_iters": args.train_iters, "resolution": f"{height}x{width}", "infer_images": args.infer_images,
                "infer_rounds": args.infer_rounds, "load_before": load_before,
                "load_after": " ".join(Path("/proc/loadavg").read_text().split()[:3])}
    exact_id, comparison = compare(entry, infer_runs)
    section = markdown(entry, exact_id, comparison, settings)
    section += f"\ntune took {tune_seconds:.0f} s (the whole command, model loading and labels included).\n"
    replace_section(HERE / "results.md", SECTION, section)
    print(section)


if __name__ == "__main__":
    main()
