"""Choose the runtime by measurement on this machine: the fastest that stays correct (``paddleseg tune``).

Every installed backend x precision is timed at the deploy shape on real images (interleaved
rounds, median: ``bench.time_interleaved``), and its labels are compared with Paddle Inference
fp32's on the same images: pixel agreement and, where labels are given, mIoU. The fastest whose
agreement is at least ``min_agreement`` and whose mIoU is at most ``max_miou_drop`` below fp32's
is chosen. The choice and the whole table go to ``tuning.json`` in the model directory, keyed by
the CPU model and instruction-set flags, the thread count and the input shape: on another
machine, thread count or shape the entry does not apply, and ``infer`` says so.
"""
import copy
import datetime
import itertools
import json
import os
import statistics
from collections import namedtuple

import numpy as np

from ..errors import UserError
from ..evaluation.confusion import mean_iou
from ..image_files import read_image
from .bench import time_interleaved
from .cpu_features import read_cpu_info
from .quantize import spread
from .runtimes import BACKENDS, PRECISIONS, create_runtime, default_threads

TUNING_FILE = "tuning.json"
REFERENCE = ("paddle", "fp32")
MIN_AGREEMENT = 0.99
MAX_MIOU_DROP = 0.005  # 0.5 mIoU points
TUNING_IMAGES = 16

Sample = namedtuple("Sample", ["image", "trans_info", "label"])


def tuning_key(device="cpu", threads=None, input_shape=None, cpu=None):
    """What a tuning result depends on: device, CPU model and flags, threads, input shape (N C H W)."""
    cpu = cpu or read_cpu_info()
    return {"device": device, "cpu": cpu.model, "flags": sorted(cpu.flags),
            "threads": threads or default_threads(),
            "input_shape": [int(size) for size in input_shape] if input_shape else None}


def tuning_samples(pairs, transforms, count=TUNING_IMAGES):
    """``count`` (image, label path or None) pairs spread over ``pairs``, preprocessed by ``transforms``."""
    from paddleseg.deploy.infer import DeployConfig
    from PIL import Image

    if not pairs:
        raise UserError("tuning found no images")
    compose = DeployConfig.load_transforms(copy.deepcopy(transforms))
    samples = []
    for image_path, label_path in spread(pairs, count):
        image = read_image(image_path)
        data = compose({"img": image.astype("float32")})
        label = np.asarray(Image.open(label_path)) if label_path else None
        if label is not None and label.ndim != 2:
            raise UserError(f"{label_path}: a label must be a single-channel image")
        if label is not None and label.shape != image.shape[:2]:
            raise UserError(f"{label_path}: a label of {label.shape[1]}x{label.shape[0]} for an image of "
                            f"{image.shape[1]}x{image.shape[0]} ({image_path})")
        samples.append(Sample(data["img"], data["trans_info"], label))
    return samples


def measure(model_dir, deploy, samples, device="cpu", threads=None, repeats=10, warmup=2, ignore_index=255,
            batch_size=1):
    """Time every available backend x precision and score its labels against Paddle Inference fp32.

    Args:
        samples (list[Sample]): Preprocessed images (``tuning_samples``); timing runs those of the
            first one's shape, agreement and mIoU all of them at their original size.
        ignore_index (int): Label value left out of mIoU.
        batch_size (int): Images per timed run, as ``infer`` will run them (its tuning key).
    Returns:
        (rows, skipped, input_shape): one row per runtime (backend, precision, median_ms,
        agreement, miou where labels are given), {"backend precision": why not}, the timed N C H W.
    """
    from ..predictor import labels_from_output

    threads = threads or default_threads()
    if batch_size < 1:
        raise UserError(f"batch_size must be >= 1, got {batch_size}")
    input_shape = (batch_size, *samples[0].image.shape)
    fixed = deploy.get("input_shape") or []
    if all(isinstance(size, int) and size > 0 for size in fixed) and list(fixed) != list(input_shape):
        raise UserError(f"{model_dir} is exported for input {fixed}, but tuning would run "
                        f"{list(input_shape)}; tune on images of that size, in batches of {fixed[0]}")
    runtimes, skipped = {}, {}
    precisions = [precision for precision in PRECISIONS if not (device == "cpu" and precision == "fp16")]
    for backend, precision in itertools.product(BACKENDS, precisions):  # fp16 is a GPU precision here
        reason = BACKENDS[backend].unavailable(model_dir, deploy, device, precision)
        if reason:
            skipped[f"{backend} {precision}"] = reason
        else:
            runtimes[(backend, precision)] = create_runtime(model_dir, deploy, backend, device, precision, threads)
    if REFERENCE not in runtimes:
        raise UserError(f"tuning needs Paddle Inference fp32 as the reference: {skipped['paddle fp32']}")
    labels = {key: [labels_from_output(runtime(sample.image[np.newaxis])[0], sample.trans_info)
                    for sample in samples] for key, runtime in runtimes.items()}
    timed = _batches([sample.image for sample in samples if sample.image.shape == samples[0].image.shape],
                     batch_size)
    times = time_interleaved({key: _cycling(runtime, timed) for key, runtime in runtimes.items()},
                             repeats, warmup)
    reference = labels[REFERENCE]
    truth = [sample.label for sample in samples]
    num_classes = 1 + max(int(label.max()) for label in reference)
    if all(label is not None for label in truth):
        num_classes = max(num_classes, 1 + max(int(label[label != ignore_index].max(initial=0)) for label in truth))
    rows = []
    for (backend, precision), predicted in labels.items():
        row = {"backend": backend, "precision": precision,
               "median_ms": round(1000 * statistics.median(times[(backend, precision)]), 2),
               "agreement": round(float(np.mean([(a == b).mean() for a, b in zip(predicted, reference)])), 5)}
        if all(label is not None for label in truth):
            row["miou"] = round(mean_iou(predicted, truth, num_classes, ignore_index), 5)
        rows.append(row)
    return rows, skipped, input_shape


def _batches(images, batch_size):
    """``images`` stacked ``batch_size`` at a time, in turn round the list (at least one batch)."""
    count = max(1, len(images) // batch_size)
    return [np.stack([images[(start + offset) % len(images)] for offset in range(batch_size)])
            for start in range(0, count * batch_size, batch_size)]


def _cycling(runtime, batches):
    """A callable running ``runtime`` on ``batches`` in turn, one per call."""
    batches = itertools.cycle(batches)
    return lambda: runtime(next(batches))


def pick(rows, min_agreement=MIN_AGREEMENT, max_miou_drop=MAX_MIOU_DROP):
    """The fastest row that agrees with fp32 enough (and loses little mIoU, where measured).

    Marks every row with ``eligible`` and, where not, ``why_not``. The reference always qualifies.
    """
    reference = next(row for row in rows if (row["backend"], row["precision"]) == REFERENCE)
    for row in rows:
        row["eligible"], row["why_not"] = True, None
        if row["agreement"] < min_agreement:
            row["eligible"], row["why_not"] = False, f"agreement {row['agreement']} < {min_agreement}"
        elif "miou" in row and reference["miou"] - row["miou"] > max_miou_drop:
            row["eligible"] = False
            row["why_not"] = f"mIoU {row['miou']} is more than {max_miou_drop} below fp32's {reference['miou']}"
    return min((row for row in rows if row["eligible"]), key=lambda row: row["median_ms"])


def tune(model_dir, deploy, samples, device="cpu", threads=None, min_agreement=MIN_AGREEMENT,
         max_miou_drop=MAX_MIOU_DROP, repeats=10, warmup=2, ignore_index=255, batch_size=1):
    """Measure, pick and write ``tuning.json`` (the entry for this key replaced); return the entry."""
    threads = threads or default_threads()
    rows, skipped, input_shape = measure(model_dir, deploy, samples, device, threads, repeats, warmup,
                                         ignore_index, batch_size)
    choice = pick(rows, min_agreement, max_miou_drop)
    entry = {"key": tuning_key(device, threads, input_shape),
             "choice": {"backend": choice["backend"], "precision": choice["precision"]},
             "min_agreement": min_agreement, "max_miou_drop": max_miou_drop,
             "images": len(samples), "labelled": "miou" in choice,
             "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
             "rows": rows, "skipped": skipped}
    entries = [old for old in read_entries(model_dir) if old["key"] != entry["key"]] + [entry]
    path = os.path.join(model_dir, TUNING_FILE)
    with open(path + ".tmp", "w") as file:
        json.dump({"entries": entries}, file, indent=2)
    os.replace(path + ".tmp", path)
    return entry


def read_entries(model_dir):
    """The entries of ``model_dir/tuning.json`` (none where there is no file)."""
    path = os.path.join(model_dir, TUNING_FILE)
    if not os.path.isfile(path):
        return []
    try:
        with open(path) as file:
            return json.load(file)["entries"]
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(f"{path} is not a tuning result ({error}); delete it or re-run `paddleseg tune`") from None


def tuned_choice(model_dir, key):
    """(choice {"backend", "precision"} or None, why): the entry of ``tuning.json`` for ``key``."""
    entries = read_entries(model_dir)
    if not entries:
        return None, f"no {TUNING_FILE} (run `paddleseg tune --model_dir {model_dir}` to measure)"
    for entry in entries:
        if entry["key"] == key:
            return entry["choice"], f"tuned on this machine ({TUNING_FILE}, {entry['date']})"
    return None, f"{TUNING_FILE} is stale here: {_difference(entries[-1]['key'], key)}; re-run `paddleseg tune`"


def _difference(tuned, current):
    """What differs between two tuning keys, in words."""
    words = {"device": "device", "cpu": "CPU", "flags": "CPU flags", "threads": "threads",
             "input_shape": "input shape"}
    differences = []
    for name, word in words.items():
        if tuned.get(name) != current.get(name):
            if name == "flags":
                changed = sorted(set(tuned.get(name) or []) ^ set(current.get(name) or []))
                differences.append(f"other CPU flags ({' '.join(changed)})")
            else:
                differences.append(f"{word} {tuned.get(name)} there, {current.get(name)} here")
    return ", ".join(differences)


def format_entry(entry):
    """A tuning entry as a Markdown table with the choice and the skipped runtimes below it."""
    key = entry["key"]
    lines = [f"{key['cpu']}, {key['threads']} threads, input {'x'.join(map(str, key['input_shape']))}, "
             f"{entry['images']} images", "",
             "| backend | precision | median ms | agreement with fp32 | mIoU | within the limits |",
             "|---|---|---|---|---|---|"]
    for row in sorted(entry["rows"], key=lambda row: row["median_ms"]):
        verdict = "yes" if row["eligible"] else f"no: {row['why_not']}"
        lines.append(f"| {row['backend']} | {row['precision']} | {row['median_ms']} | {row['agreement']} | "
                     f"{row.get('miou', '-')} | {verdict} |")
    lines += [f"skipped {name}: {reason}" for name, reason in entry["skipped"].items()]
    lines.append(f"Chosen: {entry['choice']['backend']} {entry['choice']['precision']}")
    return "\n".join(lines)
