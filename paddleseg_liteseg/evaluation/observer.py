"""What PaddleSeg's ``evaluate`` sees, image by image, gathered while it runs (no second pass).

``evaluate`` hands every image's (prediction, label) pair to ``metrics.calculate_area``. Within
``observe_evaluation`` that function is wrapped: it still computes the areas ``evaluate`` sums, and
the pair is also added to an ``EvaluationRecord`` (the confusion matrix, a score per image, the
predictions of the worst images and of a few fixed preview images). Outside the block PaddleSeg's
function is back in place.

With several processes, ``evaluate`` reads each process's share of the images (padded to equal
shares) and gathers their areas; ``EvaluationRecord.gather`` does the same for the record (every
process must call it), leaving out the padding images exactly as ``evaluate`` does.
"""
import contextlib
import heapq
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..compat import patched
from .confusion import confusion_matrix, image_scores

PREVIEW_IMAGES = 4  # the first val images, shown at every evaluation in VisualDL


@dataclass
class ImageScore:
    """One evaluated image: its dataset index, files and scores."""
    index: int
    image: Optional[str]
    label: Optional[str]
    miou: float
    accuracy: float
    pixels: int


@dataclass
class KeptPrediction:
    """A prediction kept for a picture: (H, W) uint8 class ids and the label it was scored on."""
    index: int
    image: Optional[str]
    pred: np.ndarray
    label: np.ndarray


class EvaluationRecord:
    """The confusion matrix, per-image scores and kept predictions of one evaluation.

    Args:
        dataset: the evaluated PaddleSeg dataset (``num_classes``, ``ignore_index``, ``file_list``).
        worst_k (int): how many of the lowest-scoring images keep their prediction.
        preview_count (int): how many of the first images keep theirs, for previews.
    """

    def __init__(self, dataset, worst_k=8, preview_count=PREVIEW_IMAGES):
        import paddle
        self.num_classes = dataset.num_classes
        self.ignore_index = dataset.ignore_index
        self.num_images = len(dataset)
        self.worst_k = worst_k
        self.confusion = np.zeros((self.num_classes, self.num_classes), np.int64)
        self.images = []
        self.previews = []
        self._worst = []  # min-heap of (-mIoU, -index, kept): its top is the next one to drop
        self._file_list = getattr(dataset, "file_list", None)
        # The order evaluate reads this process's images in: its own sampler, rebuilt.
        sampler = paddle.io.DistributedBatchSampler(dataset, batch_size=1, shuffle=False, drop_last=False)
        self._nranks, self._rank = sampler.nranks, sampler.local_rank
        self._indices = [index for batch in sampler for index in batch]
        self._position = 0
        self._preview_count = preview_count

    def add(self, pred, label):
        """Add one batch of predictions and labels (N, [1,] H, W), in evaluate's reading order."""
        pred, label = np.asarray(pred), np.asarray(label)
        for one_pred, one_label in zip(pred.reshape(len(pred), *pred.shape[-2:]),
                                       label.reshape(len(label), *label.shape[-2:])):
            position, self._position = self._position, self._position + 1
            if position * self._nranks + self._rank >= self.num_images:
                continue  # a padding image, which evaluate leaves out too
            self._add_image(self._indices[position], one_pred, one_label)

    def _add_image(self, index, pred, label):
        matrix = confusion_matrix(pred, label, self.num_classes, self.ignore_index)
        self.confusion += matrix
        image_path, label_path = self._files(index)
        score = ImageScore(index, image_path, label_path, *image_scores(matrix), int(matrix.sum()))
        self.images.append(score)
        kept = None
        if index < self._preview_count:
            kept = KeptPrediction(index, image_path, pred.astype(np.uint8), label.astype(np.uint8))
            self.previews.append(kept)
        if self.worst_k > 0 and not np.isnan(score.miou):
            kept = kept or KeptPrediction(index, image_path, pred.astype(np.uint8), label.astype(np.uint8))
            entry = (-score.miou, -index, kept)
            if len(self._worst) < self.worst_k:
                heapq.heappush(self._worst, entry)
            elif entry > self._worst[0]:
                heapq.heapreplace(self._worst, entry)

    def _files(self, index):
        if self._file_list is None:
            return None, None
        image_path, label_path = (list(self._file_list[index]) + [None])[:2]
        return image_path, label_path

    def worst(self):
        """The kept predictions of the worst_k lowest-mIoU images, lowest first (ties: lower index)."""
        return [kept for _, _, kept in sorted(self._worst, reverse=True)]

    def gather(self):
        """Merge every process's record into each (a no-op in one process); call it in all of them."""
        if self._nranks < 2:
            return
        import paddle
        import paddle.distributed as dist
        total = paddle.to_tensor(self.confusion)
        dist.all_reduce(total)
        self.confusion = total.numpy()
        shares = []
        dist.all_gather_object(shares, (self.images, self.previews, self._worst))
        self.images = sorted((score for images, _, _ in shares for score in images), key=lambda s: s.index)
        self.previews = sorted((kept for _, previews, _ in shares for kept in previews), key=lambda k: k.index)
        self._worst = sorted((entry for _, _, worst in shares for entry in worst), reverse=True)[:self.worst_k]
        heapq.heapify(self._worst)
        self._nranks = 1


@contextlib.contextmanager
def observe_evaluation(dataset, worst_k=8, preview_count=PREVIEW_IMAGES):
    """Within the block, every ``paddleseg.core.evaluate`` of ``dataset`` adds to the yielded record.

    Wraps ``paddleseg.utils.metrics.calculate_area``, which ``evaluate`` looks up on its module at
    every image (after the plugin's Paddle 3 fix, which the wrapper calls).
    """
    from paddleseg.utils import metrics
    record = EvaluationRecord(dataset, worst_k, preview_count)
    calculate_area = metrics.calculate_area

    def observed_calculate_area(pred, label, num_classes, ignore_index=255):
        result = calculate_area(pred, label, num_classes, ignore_index=ignore_index)
        record.add(pred.numpy(), label.numpy())
        return result

    with patched(metrics, "calculate_area", observed_calculate_area):
        yield record


def image_stem(kept_or_score):
    """A file-name stem for an evaluated image: its image file's, else ``image_<index>``."""
    if kept_or_score.image:
        return os.path.splitext(os.path.basename(kept_or_score.image))[0]
    return f"image_{kept_or_score.index}"
