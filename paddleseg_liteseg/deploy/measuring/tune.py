"""Choose the runtime by measurement on this machine: the fastest that stays correct (``paddleseg tune``).

Every installed backend x precision is run at the deploy shape on real images, and its labels are
compared with Paddle Inference fp32's on the same images: pixel agreement and, where labels are
given, mIoU. Those within ``min_agreement`` and ``max_miou_drop`` are candidates.

Timing: interleaved rounds (each runtime timed once a round, the order rotating), at least
``repeats`` rounds, then more until every verdict below is reached, or ``max_rounds`` or
``max_seconds``. In its turn a runtime first runs untimed for ``SETTLE_SECONDS`` (at least once):
the runtime before it leaves threads spinning for a while (onnxruntime's pool, OpenMP's block
time), which would slow it, the fast ones most, where ``infer`` runs one runtime alone. Then it
waits as long as ``paddleseg infer``'s own work on an image takes, measured on the samples
(reading, preprocessing, labels back at the image's size, the label PNG and the overlay encoded:
``Sample.host_seconds`` and ``_output_seconds``), before its timed call, as ``infer`` calls it
between images: a runtime whose threads or matrix units go idle in that time (AMX's do) pays for
waking them on each call, in ``infer`` and so in ``tune``. Each
row records its min, median and max ms and a 95% confidence interval of its median, the
distribution-free one of order statistics (``inference_timing.median_interval``): it needs no
assumption about the shape of the times, which on a loaded machine have long tails.

The choice: the fastest exact row (fp32 whose labels agree with Paddle's, ``is_exact``), unless a
lossy candidate (int8, bf16, fp16, or an fp32 that agrees less) beats it by more than the noise,
its median's interval below the exact row's, and by ``MIN_LOSSY_GAIN`` on the medians: a lossy
path must pay for the pixels it changes. A lossy row is undecided while the intervals leave both
answers open; tuning stops when none is, and an undecided row is not chosen. Exact rows compete
on their medians alone: they give the same labels. The entry says why it chose (``why``).

The choice and the whole table go to ``tuning.json`` in the model directory, keyed by the CPU
model and instruction-set flags, the thread count and the input shape: on another machine, thread
count or shape the entry does not apply, and ``infer`` says so.
"""
import dataclasses
import datetime
import io
import itertools
import statistics
import time
from collections import namedtuple

import cv2
import numpy as np

from ...errors import UserError
from ...evaluation.confusion import mean_iou
from ...image_files import read_image
from ..int8.agreement import MAX_MIOU_DROP, MIN_AGREEMENT, pixel_agreement
from ..exporting.exported_model import labels_from_output
from ..running.inference_timing import median_interval, time_until
from ..int8.quantize import spread
from ..running.runtime_id import RuntimeId
from ..running.device_runtimes import DEVICE_BACKENDS
from ..running.runtimes import BACKENDS, PRECISIONS, create_runtime, default_threads
from ..running.tuning_entry import TunedRow, TuningEntry
from ..running.tuning_file import tuning_key, write_entry

REFERENCE = RuntimeId("paddle", "fp32")  # the labels every runtime is compared with
TUNING_IMAGES = 16
MIN_LOSSY_GAIN = 0.10  # how much faster than the fastest exact runtime a lossy one must be to be chosen
EXACT_AGREEMENT = 0.999  # pixel agreement an fp32 runtime keeps to count as exact
MIN_ROUNDS = 10  # timed rounds before a verdict may stop timing
MAX_ROUNDS, MAX_SECONDS = 100, 60  # when timing stops without a verdict
SETTLE_SECONDS = 0.1  # a runtime's untimed calls before each timed one (see Timing above)

# host_seconds: reading and preprocessing the image and encoding an overlay of its size, infer's
# work on it besides the run (the label PNG and mapping labels back: ``_output_seconds``).
Sample = namedtuple("Sample", ["image", "trans_info", "label", "host_seconds"], defaults=[0.0])


def tuning_samples(pairs, model, count=TUNING_IMAGES):
    """``count`` (image, label path or None) pairs spread over ``pairs``, preprocessed as ``model`` does."""
    from PIL import Image

    if not pairs:
        raise UserError("tuning found no images")
    samples = []
    for image_path, label_path in spread(pairs, count):
        start = time.perf_counter()
        image = read_image(image_path)
        input_image, trans_info = model.preprocess(image)
        cv2.imencode(".png", image)  # as infer writes the overlay, an image of this size
        host_seconds = time.perf_counter() - start
        label = np.asarray(Image.open(label_path)) if label_path else None
        if label is not None and label.ndim != 2:
            raise UserError(f"{label_path}: a label must be a single-channel image")
        if label is not None and label.shape != image.shape[:2]:
            raise UserError(f"{label_path}: a label of {label.shape[1]}x{label.shape[0]} for an image of "
                            f"{image.shape[1]}x{image.shape[0]} ({image_path})")
        samples.append(Sample(input_image, trans_info, label, host_seconds))
    return samples


def measure(model, samples, device="cpu", threads=None, repeats=MIN_ROUNDS, warmup=2, ignore_index=255, batch_size=1, *,
            max_rounds=MAX_ROUNDS, max_seconds=MAX_SECONDS, min_agreement=MIN_AGREEMENT, max_miou_drop=MAX_MIOU_DROP):
    """Time every available backend x precision of ``model`` (an ExportedModel) and score its labels
    against Paddle Inference fp32.

    Args:
        samples (list[Sample]): Preprocessed images (``tuning_samples``); timing runs those of the
            first one's shape, agreement and mIoU all of them at their original size.
        ignore_index (int): Label value left out of mIoU.
        batch_size (int): Images per timed run, as ``infer`` will run them (its tuning key); a model
            exported for a fixed batch runs in batches of that size.
        repeats (int): Timed rounds at least; then more until every lossy candidate (within
            ``min_agreement`` and ``max_miou_drop``) has its verdict (``time_rows``), up to
            ``max_rounds`` or ``max_seconds``.
    Returns:
        (rows, skipped, input_shape): a ``TunedRow`` per runtime, its spread and eligibility filled
        in; {"backend precision": why not}; the timed N C H W.
    """
    threads = threads or default_threads()
    if batch_size < 1:
        raise UserError(f"batch_size must be >= 1, got {batch_size}")
    batch_size = model.fixed_batch or batch_size  # the batches infer will run it in
    input_shape = (batch_size, *samples[0].image.shape)
    runtimes, skipped = {}, {}
    for backend, precision in itertools.product(BACKENDS, PRECISIONS):
        if device == "cpu" and precision == "fp16" and backend not in DEVICE_BACKENDS:
            continue  # fp16 is a GPU precision here, but for the device files' fp16 weights
        reason = BACKENDS[backend].unavailable(model, device, precision)
        if reason:
            skipped[str(RuntimeId(backend, precision))] = str(reason)
        else:
            runtimes[RuntimeId(backend, precision)] = create_runtime(model, backend, device, precision, threads)
    if REFERENCE not in runtimes:
        raise UserError(f"tuning needs Paddle Inference fp32 as the reference: {skipped[str(REFERENCE)]}")
    labels, mapping_seconds = {}, []
    for key, runtime in runtimes.items():
        labels[key] = []
        for sample in samples:
            output = runtime(sample.image[np.newaxis])[0]
            start = time.perf_counter()
            labels[key].append(labels_from_output(output, sample.trans_info))
            mapping_seconds.append(time.perf_counter() - start)
    host_pause = (statistics.median(sample.host_seconds for sample in samples) + statistics.median(mapping_seconds)
                  + _output_seconds(labels[REFERENCE][0]))
    rows = _scored_rows(labels, [sample.label for sample in samples], ignore_index)
    _mark_eligible(rows, min_agreement, max_miou_drop)
    timed = _batches([sample.image for sample in samples if sample.image.shape == samples[0].image.shape],
                     batch_size)
    time_rows(rows, [_cycling(runtimes[key], timed) for key in labels], repeats, max_rounds, max_seconds, warmup,
              pause=batch_size * host_pause)
    return rows, skipped, input_shape


def time_rows(rows, runners, repeats, max_rounds, max_seconds, warmup=0, settle=SETTLE_SECONDS, pause=0.0,
              clock=time.perf_counter):
    """Time ``runners`` (callables, one per row of ``rows``, which ``_mark_eligible`` has marked) in
    interleaved rounds until every lossy candidate's verdict is reached (``_settled``) or a limit;
    fill in each row's spread (``_spread``). ``settle``, ``pause`` and ``clock``: ``time_until``'s."""
    def settled(times):
        return _settled([dataclasses.replace(row, **_spread(times[index])) for index, row in enumerate(rows)])

    times = time_until(dict(enumerate(runners)), settled, repeats, max_rounds, max_seconds, warmup, settle, clock,
                       pause=pause)
    for index, row in enumerate(rows):
        for name, value in _spread(times[index]).items():
            setattr(row, name, value)


def _output_seconds(labels):
    """Seconds ``infer`` takes to encode the label PNG of ``labels`` (PaddleSeg's pseudo-colour map)."""
    from paddleseg.utils.visualize import get_pseudo_color_map

    start = time.perf_counter()
    get_pseudo_color_map(labels).save(io.BytesIO(), format="PNG")
    return time.perf_counter() - start


def _scored_rows(labels, truth, ignore_index):
    """One row a runtime: its agreement with Paddle Inference fp32's ``labels`` and, where every
    image has a ``truth`` label, its mIoU."""
    reference = labels[REFERENCE]
    num_classes = 1 + max(int(label.max()) for label in reference)
    labelled = all(label is not None for label in truth)
    if labelled:
        num_classes = max(num_classes, 1 + max(int(label[label != ignore_index].max(initial=0)) for label in truth))
    return [TunedRow(runtime_id.backend, runtime_id.precision, round(pixel_agreement(predicted, reference), 5),
                     miou=round(mean_iou(predicted, truth, num_classes, ignore_index), 5) if labelled else None)
            for runtime_id, predicted in labels.items()]


def _spread(seconds):
    """A runtime's times in ms, as ``TunedRow``'s fields: min, median, max, the median's 95% interval
    and how many runs."""
    low, high = median_interval(seconds)
    return {"min_ms": _ms(min(seconds)), "median_ms": _ms(statistics.median(seconds)), "max_ms": _ms(max(seconds)),
            "median_interval_ms": [_ms(low), _ms(high)], "runs": len(seconds)}


def _ms(seconds):
    return round(1000 * seconds, 2)


def _batches(images, batch_size):
    """``images`` stacked ``batch_size`` at a time, in turn round the list (at least one batch)."""
    count = max(1, len(images) // batch_size)
    return [np.stack([images[(start + offset) % len(images)] for offset in range(batch_size)])
            for start in range(0, count * batch_size, batch_size)]


def _cycling(runtime, batches):
    """A callable running ``runtime`` on ``batches`` in turn, one per call."""
    batches = itertools.cycle(batches)
    return lambda: runtime(next(batches))


def _mark_eligible(rows, min_agreement, max_miou_drop):
    """Mark every row ``eligible`` or not, with ``why_not``: agreement and mIoU against the reference's."""
    reference = next(row for row in rows if row.runtime == REFERENCE)
    for row in rows:
        row.eligible, row.why_not = True, None
        if row.agreement < min_agreement:
            row.eligible, row.why_not = False, f"agreement {row.agreement} < {min_agreement}"
        elif row.miou is not None and reference.miou - row.miou > max_miou_drop:
            row.eligible = False
            row.why_not = f"mIoU {row.miou} is more than {max_miou_drop} below fp32's {reference.miou}"


def is_exact(row):
    """Whether ``row`` computes fp32's answer: an fp32 runtime that agrees with Paddle's (sums in
    another order flip a near-tie pixel here and there; below ``EXACT_AGREEMENT`` it computes
    something else)."""
    return row.precision == "fp32" and row.agreement >= EXACT_AGREEMENT


def _interval(row):
    """The row's median interval in ms (the median itself for a row measured without one)."""
    return row.median_interval_ms or [row.median_ms, row.median_ms]


def lossy_verdict(row, exact, min_lossy_gain=MIN_LOSSY_GAIN):
    """Whether lossy ``row`` is worth running instead of ``exact`` (the fastest exact row):
    "faster" (its median's interval lies below exact's and its median gains ``min_lossy_gain``),
    "not faster" (even the ends of the intervals most in its favour gain less), else "undecided"."""
    (low, high), (exact_low, exact_high) = _interval(row), _interval(exact)
    if high < exact_low and exact.median_ms >= (1 + min_lossy_gain) * row.median_ms:
        return "faster"
    if exact_high < (1 + min_lossy_gain) * low:
        return "not faster"
    return "undecided"


def _contest(rows, min_lossy_gain):
    """(the fastest exact row, the eligible lossy rows fastest first, with their verdicts)."""
    exact = min((row for row in rows if row.eligible and is_exact(row)), key=lambda row: row.median_ms)
    lossy = sorted((row for row in rows if row.eligible and not is_exact(row)), key=lambda row: row.median_ms)
    return exact, [(row, lossy_verdict(row, exact, min_lossy_gain)) for row in lossy]


def _settled(rows, min_lossy_gain=MIN_LOSSY_GAIN):
    """Whether every lossy candidate's verdict is reached (``time_until``'s stopping rule)."""
    return all(verdict != "undecided" for _, verdict in _contest(rows, min_lossy_gain)[1])


def choose(rows, min_agreement=MIN_AGREEMENT, max_miou_drop=MAX_MIOU_DROP, min_lossy_gain=MIN_LOSSY_GAIN):
    """(row, why): the fastest exact row, or the fastest lossy one within the limits that beats it
    beyond the noise by ``min_lossy_gain`` (``lossy_verdict``); why, in words.

    Marks every row with ``eligible`` and, where not, ``why_not``. The reference always qualifies.
    """
    _mark_eligible(rows, min_agreement, max_miou_drop)
    exact, lossy = _contest(rows, min_lossy_gain)
    faster = [row for row, verdict in lossy if verdict == "faster"]
    if faster:
        return faster[0], (f"{_name(faster[0])} is {_speedup(faster[0], exact)} as fast as {_name(exact)}, the "
                           f"fastest exact runtime: beyond its noise and above the {min_lossy_gain:.0%} a lossy "
                           f"path must gain")
    if not lossy:
        return exact, f"{_name(exact)} is the fastest exact runtime; no lossy runtime is within the limits"
    row, verdict = lossy[0]
    reasons = []
    if _interval(row)[1] >= _interval(exact)[0]:
        reasons.append("within its noise (the 95% intervals of the medians overlap)")
    if exact.median_ms < (1 + min_lossy_gain) * row.median_ms:
        reasons.append(f"under the {min_lossy_gain:.0%} a lossy path must gain")
    why = (f"{_name(exact)}, exact, is kept: {_name(row)} is {_speedup(row, exact)} as fast, "
           f"{' and '.join(reasons)}")
    if verdict == "undecided":
        why += f" (undecided when timing stopped after {row.runs or '?'} rounds)"
    return exact, why


def pick(rows, min_agreement=MIN_AGREEMENT, max_miou_drop=MAX_MIOU_DROP, min_lossy_gain=MIN_LOSSY_GAIN):
    """``choose``'s row."""
    return choose(rows, min_agreement, max_miou_drop, min_lossy_gain)[0]


def _name(row):
    return str(row.runtime)


def _speedup(row, exact):
    """How many times as fast as ``exact`` ``row`` runs (medians, which the table gives to 0.01 ms)."""
    return f"{exact.median_ms / max(row.median_ms, 0.01):.2f}x"


def tune(model, samples, device="cpu", threads=None, min_agreement=MIN_AGREEMENT,
         max_miou_drop=MAX_MIOU_DROP, repeats=MIN_ROUNDS, warmup=2, ignore_index=255, batch_size=1,
         max_rounds=MAX_ROUNDS, max_seconds=MAX_SECONDS):
    """Measure, choose and write ``tuning.json`` (the entry for this key replaced); return the ``TuningEntry``."""
    threads = threads or default_threads()
    rows, skipped, input_shape = measure(model, samples, device, threads, repeats, warmup, ignore_index, batch_size,
                                         max_rounds=max_rounds, max_seconds=max_seconds,
                                         min_agreement=min_agreement, max_miou_drop=max_miou_drop)
    choice, why = choose(rows, min_agreement, max_miou_drop)
    entry = TuningEntry(
        key=tuning_key(device, threads, input_shape), choice=choice.runtime, why=why, min_agreement=min_agreement,
        max_miou_drop=max_miou_drop, min_lossy_gain=MIN_LOSSY_GAIN, images=len(samples),
        labelled=choice.miou is not None,
        rounds={"min": repeats, "max": max_rounds, "max_seconds": max_seconds, "timed": choice.runs},
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), rows=rows, skipped=skipped)
    write_entry(model.directory, entry)
    return entry


def format_entry(entry):
    """A ``TuningEntry`` as a Markdown table (each row's spread: min / median / max ms and the median's
    95% interval) with the skipped runtimes, the choice and why below it."""
    key = entry.key
    lines = [f"{key['cpu']}, {key['threads']} threads, input {'x'.join(map(str, key['input_shape']))}, "
             f"{entry.images} images, {_cell(entry.rows[0].runs, '?')} rounds", "",
             "| backend | precision | min / median / max ms | median's 95% interval | agreement with fp32 | mIoU "
             "| within the limits |",
             "|---|---|---|---|---|---|---|"]
    for row in sorted(entry.rows, key=lambda row: row.median_ms):
        verdict = "yes" if row.eligible else f"no: {row.why_not}"
        low, high = _interval(row)
        lines.append(f"| {row.backend} | {row.precision} | {_cell(row.min_ms)} / {row.median_ms} / "
                     f"{_cell(row.max_ms)} | {low} .. {high} | {row.agreement} | {_cell(row.miou)} | {verdict} |")
    lines += [f"skipped {name}: {reason}" for name, reason in entry.skipped.items()]
    lines.append(f"Chosen: {entry.choice}" + (f": {entry.why}" if entry.why else ""))
    return "\n".join(lines)


def _cell(value, missing="-"):
    """A table cell: ``value``, or ``missing`` for a field the entry does not have."""
    return missing if value is None else value
