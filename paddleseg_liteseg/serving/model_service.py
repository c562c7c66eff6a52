"""The model behind a server: loaded in the background, warmed up once, fed by the micro-batcher.

Loading takes seconds, so the server answers ``/live`` at once, and ``/health`` and ``/ready``
only once the model has loaded and run once (``ready``). Whether batches pay on this machine is
measured then too, unless the settings say: a batch of images of one size runs faster than the
same images one by one on some CPUs and runtimes, and slower on others.
"""
import contextlib
import dataclasses
import logging
import threading
import time

import numpy as np

from ..deploy.exporting.exported_model import ExportedModel
from .batching import MicroBatcher

LOG = logging.getLogger("paddleseg_liteseg.serving")
AUTO_BATCH_SIZE = 4
WARMUP_SIZE = (512, 512)  # (height, width) of the start-up runs where the model's shape is not fixed
BATCH_MEASURE_ROUNDS = 3
BATCHING_GAIN = 0.95  # batches must take at most this share of the one-by-one time to be used


def load_predictor(settings):
    """The Predictor ``settings`` describe: an exported model on its runtime, or a config's model."""
    from ..predictor import Predictor

    if settings.model_dir is not None:
        return Predictor(settings.model_dir, backend=settings.backend, device=settings.device,
                         precision=settings.precision, threads=settings.threads,
                         input_shape=list(settings.input_shape) if settings.input_shape else None,
                         slide=settings.slide)
    return Predictor(settings.config, weights=settings.model_path, device=settings.device)


@dataclasses.dataclass
class Segmented:
    """One image's labels (at the model input's size), its model time per image and its batch's size."""

    labels: np.ndarray
    model_seconds: float
    batch_size: int


class ModelService:
    """Loads a Predictor in a thread and runs requests through a MicroBatcher.

    Args:
        settings (ServeSettings): The model and how to run it.
        metrics (ServerMetrics): Where batch sizes and model times are recorded.
        loader (callable): Builds the Predictor from the settings.
    """

    def __init__(self, settings, metrics, loader=load_predictor):
        self.settings, self.metrics = settings, metrics
        self._load_predictor = loader
        self._arriving = 0
        self.predictor, self.batcher, self.error, self.batching_note = None, None, None, None
        self._thread = threading.Thread(target=self._load, name="model-loader", daemon=True)

    @property
    def ready(self):
        """The model has loaded and run once: requests may be sent (``/health`` and ``/ready`` answer 200)."""
        return self.batcher is not None

    def start(self):
        self._thread.start()

    def stop(self):
        """Finish the queued requests and stop the batcher."""
        self._thread.join()
        if self.batcher is not None:
            self.batcher.stop()

    @contextlib.contextmanager
    def arriving(self):
        """Counts a request as on its way to the model while it is inside: the batcher waits for
        these (being read or decoded) to fill a batch."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1

    async def segment(self, image):
        """``Segmented`` of ``image`` (BGR), run in a batch with concurrent images of its size."""
        return await self.batcher.submit(image, key=image.shape)

    def _load(self):
        try:
            self.predictor = self._load_predictor(self.settings)
            exported = ExportedModel.read(self.settings.model_dir) if self.settings.model_dir else None
            warmup = np.full((*self._warmup_size(exported), 3), 127, dtype=np.uint8)
            self.predictor.predict(warmup)
            max_batch_size, fixed_batch = self.settings.max_batch_size, exported and exported.fixed_batch
            if fixed_batch:  # a smaller batch is padded to it (deploy.fixed_shape)
                max_batch_size = fixed_batch
                self.batching_note = f"up to {fixed_batch} images: the model was exported for batches of {fixed_batch}"
            elif max_batch_size is None:
                max_batch_size, self.batching_note = self._measure_batching(warmup)
            else:
                self.batching_note = "off (--max_batch_size 1)" if max_batch_size == 1 else \
                    f"up to {max_batch_size} images (--max_batch_size)"
            self.batcher = MicroBatcher(self._run_batch, max_batch_size, self.settings.batch_timeout_ms / 1000,
                                        lambda: self._arriving, self.metrics.batch_size.observe)
            LOG.info("Model ready: %s %s; batching %s", self.predictor.backend, self.precision,
                     self.batching_note)
        except Exception as error:  # reported by /ready and every request, and logged with its traceback
            self.error = error
            LOG.exception("The model could not be loaded")

    def _warmup_size(self, exported):
        """The exported model's fixed (height, width) if it has one, else the settings' input shape,
        else WARMUP_SIZE."""
        fixed = exported and exported.fixed_shape
        if fixed:
            return tuple(fixed[-2:])
        return tuple(self.settings.input_shape[-2:]) if self.settings.input_shape else WARMUP_SIZE

    def _measure_batching(self, image):
        """(max batch size, why): batches of AUTO_BATCH_SIZE against the same images one by one."""
        images = [image] * AUTO_BATCH_SIZE
        one_by_one, batched = [], []
        for _ in range(BATCH_MEASURE_ROUNDS):
            start = time.perf_counter()
            for single in images:
                self.predictor.predict([single])
            one_by_one.append(time.perf_counter() - start)
            start = time.perf_counter()
            self.predictor.predict(images)
            batched.append(time.perf_counter() - start)
        ratio = min(batched) / min(one_by_one)
        measured = (f"a batch of {AUTO_BATCH_SIZE} took {ratio:.2f}x the time of its images one by one at "
                    f"{image.shape[0]}x{image.shape[1]}, measured at start-up")
        if ratio <= BATCHING_GAIN:
            return AUTO_BATCH_SIZE, f"up to {AUTO_BATCH_SIZE} images: {measured}"
        return 1, f"off: {measured}"

    def _run_batch(self, images):
        start = time.perf_counter()
        labels = self.predictor.predict(images)
        timing = self.predictor.timing  # popped: a server runs for ever, and only the last time is read
        seconds = timing.seconds_per_image.pop() if timing else (time.perf_counter() - start) / len(images)
        self.metrics.model_seconds.observe(seconds)
        return [Segmented(image_labels, seconds, len(images)) for image_labels in labels]

    @property
    def precision(self):
        """The precision the model runs at (a config's model runs fp32 in dygraph)."""
        return self.predictor.choice.precision if self.predictor.choice else "fp32"
