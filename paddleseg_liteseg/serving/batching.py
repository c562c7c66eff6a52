"""Dynamic micro-batching: requests that arrive together run through the model as one batch.

One thread owns the model. It takes every queued image of the same size (up to
``max_batch_size``), and when fewer than that are queued while more requests are on their way in
(being read or decoded), waits at most ``timeout_s`` for them. A lone request never waits, so
batching costs nothing when there is no concurrency. With ``max_batch_size`` 1 every request runs
alone, one at a time, as PaddleX's server runs them.
"""
import asyncio
import collections
import queue
import threading
import time

_STOP = object()


class MicroBatcher:
    """Runs ``run_batch(items) -> results`` in one thread over batches of items of one key.

    Args:
        run_batch (callable): Takes a list of items of one key, returns one result per item.
        max_batch_size (int): Items per batch at most.
        timeout_s (float): How long a batch waits for more items that are on their way.
        incoming (callable): The number of requests in flight (queued or not yet queued).
        on_batch (callable, optional): Called with each batch's size.
    """

    def __init__(self, run_batch, max_batch_size, timeout_s, incoming, on_batch=None):
        self.max_batch_size, self.timeout_s = max_batch_size, timeout_s
        self._run_batch, self._incoming, self._on_batch = run_batch, incoming, on_batch or (lambda size: None)
        self._queue = queue.Queue()
        self._held = collections.deque()  # taken from the queue but of another key than the batch
        self._thread = threading.Thread(target=self._loop, name="micro-batcher", daemon=True)
        self._thread.start()

    async def submit(self, item, key):
        """The result of ``item``; items of one ``key`` (an image size) may share a batch."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((key, item, future, loop))
        return await future

    def stop(self):
        """Finish every queued item, then end the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    def _loop(self):
        while True:
            first = self._held.popleft() if self._held else self._queue.get()
            if first is _STOP:
                return
            batch = self._collect(first)
            self._on_batch(len(batch))
            try:
                results = self._run_batch([item for _, item, _, _ in batch])
            except Exception as error:  # handed to every waiting request, which reports it
                for _, _, future, loop in batch:
                    loop.call_soon_threadsafe(_settle, future, None, error)
                continue
            for (_, _, future, loop), result in zip(batch, results):
                loop.call_soon_threadsafe(_settle, future, result, None)

    def _collect(self, first):
        """``first`` and the queued items of its key, waiting for ones on their way while it pays."""
        batch, key = [first], first[0]
        deadline = time.monotonic() + self.timeout_s
        for held in list(self._held):
            if len(batch) < self.max_batch_size and held[0] == key:
                self._held.remove(held)
                batch.append(held)
        while len(batch) < self.max_batch_size:
            waiting = self._incoming() > len(batch) + len(self._held)
            remaining = deadline - time.monotonic()
            try:
                entry = self._queue.get(timeout=remaining) if waiting and remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if entry is not _STOP and entry[0] == key:
                batch.append(entry)
            else:
                self._held.append(entry)
        return batch


def _settle(future, result, error):
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
