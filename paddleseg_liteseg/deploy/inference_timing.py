"""How fast ``infer`` ran: the model's time per image (median over runs) and images per second end
to end; ``seconds``, the one timer of the benchmarks and the int8 file choice; and
``time_interleaved``, the rounds ``bench`` and ``tune`` time runtimes in."""
import statistics
import time

import numpy as np


def seconds(function, *args):
    """Wall-clock seconds one call of ``function(*args)`` takes."""
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def time_interleaved(runners, repeats, warmup):
    """{name: [seconds per run]} for callables timed in rounds with a rotating order."""
    names = list(runners)
    for name in names:
        for _ in range(warmup):
            runners[name]()
    times = {name: [] for name in names}
    for round_index in range(repeats):
        offset = round_index % len(names)
        for name in names[offset:] + names[:offset]:
            times[name].append(seconds(runners[name]))
    return times


class TimedRuntime:
    """A runtime that records the seconds per image of every call (``seconds_per_image``)."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.name = runtime.name
        self.seconds_per_image = []

    def __call__(self, batch):
        start = time.perf_counter()
        output = self.runtime(batch)
        self.seconds_per_image.append((time.perf_counter() - start) / len(batch))
        return output


def speed_line(timed, images, seconds):
    """``Speed: N images, model M.M ms/image (median), T.T images/s end to end``."""
    model_ms = 1000 * statistics.median(timed.seconds_per_image) if timed.seconds_per_image else float("nan")
    rate = images / seconds if seconds > 0 else float("nan")
    return f"Speed: {images} images, model {model_ms:.1f} ms/image (median), {rate:.1f} images/s end to end"


def benchmark_summary(timed, images, seconds, model_name, device, precision, threads, batch_size):
    """PaddleSeg's ``--benchmark True`` report: the run's settings and its model and end-to-end times."""
    per_image = 1000 * np.array(timed.seconds_per_image or [float("nan")])
    return "\n".join([
        f"Benchmark: {model_name or 'model'}",
        f"  backend: {timed.name}, device: {device}, precision: {precision}, cpu_threads: {threads}, "
        f"batch_size: {batch_size}",
        f"  images: {images}, model runs: {len(timed.seconds_per_image)}",
        f"  model ms/image: median {np.median(per_image):.2f}, mean {per_image.mean():.2f}, "
        f"p90 {np.percentile(per_image, 90):.2f}",
        f"  end to end: {seconds:.2f} s, {images / seconds if seconds > 0 else float('nan'):.2f} images/s"])
