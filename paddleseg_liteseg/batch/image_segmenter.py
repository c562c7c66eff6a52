"""What each Ray actor runs: one Predictor, loaded once, segmenting the batches of images it is
handed and writing their outputs as ``paddleseg infer`` does."""
import time

import numpy as np

from ..image_files import ImageError, read_image
from ..predictions import write_prediction
from .manifest import DONE, FAILED, ManifestRecord


class ImageSegmenter:
    """Ray Data's callable class: built once per actor, then called with batches of
    {"image": paths, "name": output names}; returns {"record": manifest lines}.

    Args:
        model_dir (str): A directory written by ``paddleseg export``.
        save_dir (str): The output folder (on a filesystem every node sees).
        predictor_options (dict): ``Predictor``'s backend, precision, threads, slide.
        overlays (bool): Also write the colour overlays.
    """

    def __init__(self, model_dir, save_dir, predictor_options, overlays=True):
        import ray

        from ..predictor import Predictor

        self.predictor = Predictor(model_dir, device="cpu", **predictor_options)
        self.save_dir, self.overlays = save_dir, overlays
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch):
        records = []
        by_size = {}
        for path, name in zip(batch["image"], batch["name"]):
            start = time.perf_counter()
            try:
                image = read_image(str(path))
            except ImageError as error:
                records.append(ManifestRecord(str(path), FAILED, node=self.node, error=str(error)))
                continue
            by_size.setdefault(image.shape, []).append((str(path), str(name), image, start))
        for items in by_size.values():
            for (path, name, image, start), labels in zip(items, self.predictor.predict([item[2] for item in items])):
                output = write_prediction(self.predictor, self.save_dir, name, image, labels, self.overlays)
                records.append(ManifestRecord(path, DONE, output, *labels.shape, self._shares(labels),
                                              round(time.perf_counter() - start, 4), self.node))
        return {"record": np.array([record.to_json() for record in records], dtype=object)}

    def _shares(self, labels):
        """{class name (or id): share of the pixels} of the classes present."""
        counts = np.bincount(labels.ravel())
        names = self.predictor.class_names or []
        return {(names[index] if index < len(names) else str(index)): round(float(count) / labels.size, 6)
                for index, count in enumerate(counts) if count}
