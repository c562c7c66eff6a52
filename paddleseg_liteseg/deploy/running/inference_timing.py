"""How fast ``infer`` ran: the model's time per image (median over runs) and images per second end
to end; ``seconds``, the one timer of the benchmarks and the int8 file choice;
``time_interleaved``, the rounds ``bench`` times runtimes in, and ``time_until``, the same rounds
until a verdict (``tune``); ``median_interval``, how far a median of such runs can be trusted."""
import math
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
        _time_round(runners, round_index, times, time.perf_counter)
    return times


def _time_round(runners, round_index, times, clock, settle=0.0, pause=0.0):
    """Time every runner once, starting one further along the list each round; append its seconds.
    Where ``settle`` > 0, a runner first runs untimed, once and until ``settle`` seconds have passed;
    then ``pause`` seconds pass idle before its timed call."""
    names = list(runners)
    offset = round_index % len(names)
    for name in names[offset:] + names[:offset]:
        if settle > 0:
            start = clock()
            runners[name]()
            while clock() - start < settle:
                runners[name]()
        if pause > 0:
            time.sleep(pause)
        start = clock()
        runners[name]()
        times[name].append(clock() - start)


def time_until(runners, settled, min_rounds, max_rounds, max_seconds, warmup, settle=0.0, clock=time.perf_counter,
               pause=0.0):
    """{name: [seconds per run]} in ``time_interleaved``'s rounds: at least ``min_rounds``, then until
    ``settled(times)`` is true, ``max_rounds`` have run or ``max_seconds`` have passed since the
    warm-up (a round once begun is finished).

    Args:
        settle (float): Seconds a runner runs untimed (at least once; 0: not at all) before its
            timed call, in each turn: the runner before it may leave threads spinning for a while
            (onnxruntime's pool, OpenMP's block time), slowing whichever runs next on those cores.
        clock: The timer, a parameter for tests.
        pause (float): Idle seconds before each timed call (after settling): the host's own work
            between two runs in ``infer``, during which a runtime's threads or units may go idle.
    """
    for runner in runners.values():
        for _ in range(warmup):
            runner()
    times = {name: [] for name in runners}
    min_rounds = max(1, min_rounds)  # a verdict needs times
    start = clock()
    for round_index in range(max(min_rounds, max_rounds)):
        if round_index >= min_rounds and (settled(times) or clock() - start >= max_seconds):
            break
        _time_round(runners, round_index, times, clock, settle, pause)
    return times


def median_interval(values, confidence=0.95):
    """(low, high): a distribution-free confidence interval of the median of ``values``.

    The range of the values less the k smallest and the k largest, k as large as keeps the chance
    that at most k of n runs fall below the true median (Binomial(n, 1/2)) at most
    (1 - confidence) / 2: the median lies outside with at most 1 - confidence. It assumes nothing
    about the shape of the times (the long tails of a loaded machine included). With fewer than 6
    runs at 95% it is the whole range, at a lower confidence.
    """
    ordered = sorted(values)
    count = len(ordered)
    excluded, below = 0, math.comb(count, 0) / 2 ** count  # P(count below the median <= excluded)
    while below + math.comb(count, excluded + 1) / 2 ** count <= (1 - confidence) / 2:
        excluded += 1
        below += math.comb(count, excluded) / 2 ** count
    return ordered[excluded], ordered[count - 1 - excluded]


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


def speed_line(timed, images, seconds, unit="image"):
    """``Speed: N images, model M.M ms/image (median), T.T images/s end to end``; ``unit`` is what one
    model input is ("window" where windows slide over each image)."""
    model_ms = 1000 * statistics.median(timed.seconds_per_image) if timed.seconds_per_image else float("nan")
    rate = images / seconds if seconds > 0 else float("nan")
    return f"Speed: {images} images, model {model_ms:.1f} ms/{unit} (median), {rate:.1f} images/s end to end"


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
