"""Choose the runtime by measurement on this machine: the fastest that stays correct (``paddleseg tune``).

Every installed backend x precision is timed at the deploy shape on real images (interleaved
rounds, median: ``inference_timing.time_interleaved``), and its labels are compared with Paddle Inference
fp32's on the same images: pixel agreement and, where labels are given, mIoU. The fastest whose
agreement is at least ``min_agreement`` and whose mIoU is at most ``max_miou_drop`` below fp32's
is chosen. The choice and the whole table go to ``tuning.json`` in the model directory, keyed by
the CPU model and instruction-set flags, the thread count and the input shape: on another
machine, thread count or shape the entry does not apply, and ``infer`` says so.
"""
import datetime
import itertools
import statistics
from collections import namedtuple

import numpy as np

from ..errors import UserError
from ..evaluation.confusion import mean_iou
from ..image_files import read_image
from .agreement import MAX_MIOU_DROP, MIN_AGREEMENT, pixel_agreement
from .exported_model import labels_from_output
from .inference_timing import time_interleaved
from .quantize import spread
from .runtime_id import RuntimeId
from .runtimes import BACKENDS, PRECISIONS, create_runtime, default_threads
from .tuning_file import tuning_key, write_entry

REFERENCE = RuntimeId("paddle", "fp32")
TUNING_IMAGES = 16

Sample = namedtuple("Sample", ["image", "trans_info", "label"])


def tuning_samples(pairs, model, count=TUNING_IMAGES):
    """``count`` (image, label path or None) pairs spread over ``pairs``, preprocessed as ``model`` does."""
    from PIL import Image

    if not pairs:
        raise UserError("tuning found no images")
    samples = []
    for image_path, label_path in spread(pairs, count):
        image = read_image(image_path)
        input_image, trans_info = model.preprocess(image)
        label = np.asarray(Image.open(label_path)) if label_path else None
        if label is not None and label.ndim != 2:
            raise UserError(f"{label_path}: a label must be a single-channel image")
        if label is not None and label.shape != image.shape[:2]:
            raise UserError(f"{label_path}: a label of {label.shape[1]}x{label.shape[0]} for an image of "
                            f"{image.shape[1]}x{image.shape[0]} ({image_path})")
        samples.append(Sample(input_image, trans_info, label))
    return samples


def measure(model, samples, device="cpu", threads=None, repeats=10, warmup=2, ignore_index=255, batch_size=1):
    """Time every available backend x precision of ``model`` (an ExportedModel) and score its labels
    against Paddle Inference fp32.

    Args:
        samples (list[Sample]): Preprocessed images (``tuning_samples``); timing runs those of the
            first one's shape, agreement and mIoU all of them at their original size.
        ignore_index (int): Label value left out of mIoU.
        batch_size (int): Images per timed run, as ``infer`` will run them (its tuning key).
    Returns:
        (rows, skipped, input_shape): one row per runtime (backend, precision, median_ms,
        agreement, miou where labels are given), {"backend precision": why not}, the timed N C H W.
    """
    threads = threads or default_threads()
    if batch_size < 1:
        raise UserError(f"batch_size must be >= 1, got {batch_size}")
    input_shape = (batch_size, *samples[0].image.shape)
    fixed = model.fixed_shape
    if fixed and fixed != list(input_shape):
        raise UserError(f"{model.directory} is exported for input {fixed}, but tuning would run "
                        f"{list(input_shape)}; tune on images of that size, in batches of {fixed[0]}",
                        path=model.directory)
    runtimes, skipped = {}, {}
    precisions = [precision for precision in PRECISIONS if not (device == "cpu" and precision == "fp16")]
    for backend, precision in itertools.product(BACKENDS, precisions):  # fp16 is a GPU precision here
        reason = BACKENDS[backend].unavailable(model, device, precision)
        if reason:
            skipped[str(RuntimeId(backend, precision))] = str(reason)
        else:
            runtimes[RuntimeId(backend, precision)] = create_runtime(model, backend, device, precision, threads)
    if REFERENCE not in runtimes:
        raise UserError(f"tuning needs Paddle Inference fp32 as the reference: {skipped[str(REFERENCE)]}")
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
    for runtime_id, predicted in labels.items():
        row = {"backend": runtime_id.backend, "precision": runtime_id.precision,
               "median_ms": round(1000 * statistics.median(times[runtime_id]), 2),
               "agreement": round(pixel_agreement(predicted, reference), 5)}
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
    reference = next(row for row in rows if RuntimeId(row["backend"], row["precision"]) == REFERENCE)
    for row in rows:
        row["eligible"], row["why_not"] = True, None
        if row["agreement"] < min_agreement:
            row["eligible"], row["why_not"] = False, f"agreement {row['agreement']} < {min_agreement}"
        elif "miou" in row and reference["miou"] - row["miou"] > max_miou_drop:
            row["eligible"] = False
            row["why_not"] = f"mIoU {row['miou']} is more than {max_miou_drop} below fp32's {reference['miou']}"
    return min((row for row in rows if row["eligible"]), key=lambda row: row["median_ms"])


def tune(model, samples, device="cpu", threads=None, min_agreement=MIN_AGREEMENT,
         max_miou_drop=MAX_MIOU_DROP, repeats=10, warmup=2, ignore_index=255, batch_size=1):
    """Measure, pick and write ``tuning.json`` (the entry for this key replaced); return the entry."""
    threads = threads or default_threads()
    rows, skipped, input_shape = measure(model, samples, device, threads, repeats, warmup, ignore_index, batch_size)
    choice = pick(rows, min_agreement, max_miou_drop)
    entry = {"key": tuning_key(device, threads, input_shape),
             "choice": {"backend": choice["backend"], "precision": choice["precision"]},
             "min_agreement": min_agreement, "max_miou_drop": max_miou_drop,
             "images": len(samples), "labelled": "miou" in choice,
             "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
             "rows": rows, "skipped": skipped}
    write_entry(model.directory, entry)
    return entry


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
