"""MicroBatcher: concurrent items of one key share a batch, up to its size; a lone item never waits."""
import asyncio
import threading
import time

import pytest

from paddleseg_liteseg.serving.batching import MicroBatcher


class Recorder:
    """A run_batch that records its batches, optionally holding the first one until released."""

    def __init__(self, hold_first=False):
        self.batches, self.release = [], threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, items):
        self.release.wait(10)
        self.batches.append(list(items))
        return [item * 10 for item in items]


def run_concurrently(batcher, items_and_keys, waiting):
    async def one(item, key):
        waiting[0] += 1
        try:
            return await batcher.submit(item, key)
        finally:
            waiting[0] -= 1

    async def all_of_them():
        return await asyncio.gather(*(one(item, key) for item, key in items_and_keys))
    return asyncio.run(all_of_them())


def test_concurrent_items_of_one_key_share_batches_up_to_the_limit():
    recorder, waiting = Recorder(), [0]
    batcher = MicroBatcher(recorder, max_batch_size=4, timeout_s=0.5, incoming=lambda: waiting[0])
    results = run_concurrently(batcher, [(item, "a") for item in range(10)], waiting)
    batcher.stop()
    assert results == [item * 10 for item in range(10)]
    assert sorted(item for batch in recorder.batches for item in batch) == list(range(10))
    assert max(len(batch) for batch in recorder.batches) == 4 and len(recorder.batches) <= 4


def test_items_of_different_keys_never_share_a_batch():
    recorder, waiting = Recorder(), [0]
    batcher = MicroBatcher(recorder, max_batch_size=8, timeout_s=0.2, incoming=lambda: waiting[0])
    keys = {item: "small" if item % 2 else "large" for item in range(12)}
    run_concurrently(batcher, list(keys.items()), waiting)
    batcher.stop()
    assert all(len({keys[item] for item in batch}) == 1 for batch in recorder.batches)
    assert sorted(item for batch in recorder.batches for item in batch) == list(range(12))


def test_a_lone_request_does_not_wait_for_the_timeout():
    recorder, waiting = Recorder(), [0]
    batcher = MicroBatcher(recorder, max_batch_size=8, timeout_s=30, incoming=lambda: waiting[0])
    start = time.monotonic()
    assert run_concurrently(batcher, [(1, "a")], waiting) == [10]
    batcher.stop()
    assert time.monotonic() - start < 10  # far under the 30 s it would wait for company


def test_batch_size_one_runs_every_item_alone():
    recorder, waiting = Recorder(), [0]
    batcher = MicroBatcher(recorder, max_batch_size=1, timeout_s=1, incoming=lambda: waiting[0])
    run_concurrently(batcher, [(item, "a") for item in range(5)], waiting)
    batcher.stop()
    assert [len(batch) for batch in recorder.batches] == [1] * 5


def test_an_error_reaches_every_request_of_its_batch_and_the_next_batch_runs():
    calls = []

    def failing_once(items):
        calls.append(list(items))
        if len(calls) == 1:
            raise RuntimeError("the runtime failed")
        return items

    waiting = [0]
    batcher = MicroBatcher(failing_once, max_batch_size=1, timeout_s=0, incoming=lambda: waiting[0])

    async def both():
        first = await asyncio.gather(batcher.submit(1, "a"), return_exceptions=True)
        second = await batcher.submit(2, "a")
        return first[0], second

    error, second = asyncio.run(both())
    batcher.stop()
    assert isinstance(error, RuntimeError) and second == 2


def test_stop_finishes_what_is_queued():
    recorder, waiting = Recorder(hold_first=True), [0]
    batcher = MicroBatcher(recorder, max_batch_size=2, timeout_s=0, incoming=lambda: waiting[0])

    async def submit_then_stop():
        tasks = [asyncio.ensure_future(batcher.submit(item, "a")) for item in range(5)]
        await asyncio.sleep(0.2)
        stopping = asyncio.get_running_loop().run_in_executor(None, batcher.stop)
        recorder.release.set()
        results = await asyncio.gather(*tasks)
        await stopping
        return results

    assert asyncio.run(submit_then_stop()) == [0, 10, 20, 30, 40]


@pytest.mark.parametrize("max_batch_size", [0, -1])
def test_settings_refuse_a_batch_size_below_one(max_batch_size):
    from paddleseg_liteseg.serving.settings import ServeSettings
    with pytest.raises(ValueError, match="max_batch_size"):
        ServeSettings(model_dir="x", max_batch_size=max_batch_size)
