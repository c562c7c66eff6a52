"""``paddleseg infer --ray``: segment a folder of images on Ray Data, on this machine or a cluster.

The images are listed here (the driver), less those the output folder's manifest records as done,
and handed out in batches to a pool of actors (``ImageSegmenter``), each holding one Predictor
with ``threads`` CPU threads; images of one size in a batch run together. Each actor writes its
images' label PNGs (and overlays) into the output folder, whole or not at all, and returns a
manifest line per image, which the driver appends to ``manifest.jsonl`` as it arrives. A job
stopped half-way and run again does only the rest; an image that cannot be decoded is recorded
as failed with its reason, and the job goes on; a lost node's batches are retried elsewhere by
Ray. Every node must see the images and the output folder at the same paths (a shared or
network filesystem).

Without an address (and without ``RAY_ADDRESS``), Ray starts on this machine for the job.
"""
import dataclasses
import logging
import os
import time

from ..cpu_settings import usable_cpus
from ..deploy.running.extras import missing_package
from ..errors import UserError
from ..image_files import list_images
from ..predictions import output_name
from .image_segmenter import ImageSegmenter
from .manifest import DONE, FAILED, MANIFEST_FILE, ManifestRecord, done_images


@dataclasses.dataclass(frozen=True)
class JobReport:
    """What a job did: images listed, skipped as done before, segmented, failed; its manifest; its
    time once Ray was up (Ray's start-up left out); its actors and the cluster's nodes."""

    listed: int
    skipped: int
    done: int
    failed: int
    manifest: str
    seconds: float
    actors: int
    nodes: int


def segment_with_ray(model_dir, image_path, save_dir, address=None, actors=None, threads=1, batch_size=8,
                     overlays=True, backend="auto", precision=None, slide=None, on_record=None):
    """Segment ``image_path`` (an image, a folder or a file list) with ``model_dir`` on Ray Data,
    writing into ``save_dir`` as ``paddleseg infer`` does, plus ``manifest.jsonl``.

    Args:
        address (str, optional): A Ray cluster's address; None: ``RAY_ADDRESS``, else a Ray started
            here for the job.
        actors (int, optional): Actors, each with one model; default: the cluster's CPUs over ``threads``.
        threads (int): CPU threads of each actor's runtime (and the CPUs Ray reserves for it).
        batch_size (int): Images handed to an actor at a time.
        overlays (bool): Also write the colour overlays.
        backend (str): The runtime, as ``Predictor`` takes it.
        precision (str, optional): Its precision, as ``Predictor`` takes it.
        slide (SlideWindow | bool, optional): Sliding windows, as ``Predictor`` takes them.
        on_record (callable, optional): Called with each ManifestRecord as it arrives (progress).
    Returns:
        JobReport
    """
    missing = missing_package("ray", "ray")
    if missing:
        raise UserError(f"batch jobs on Ray need Ray Data: {missing}")
    import ray

    for name, value in (("threads", threads), ("batch_size", batch_size), ("actors", actors or 1)):
        if value < 1:
            raise UserError(f"{name} must be >= 1, got {value}", argument=name)
    image_list, image_dir, _ = list_images(image_path)
    os.makedirs(save_dir, exist_ok=True)
    done = done_images(save_dir)
    todo = [path for path in image_list if path not in done]
    started = not ray.is_initialized()  # a Ray this job starts or joins, and leaves at its end
    if started:
        local = address is None and not os.environ.get("RAY_ADDRESS")
        ray.init(address=address, num_cpus=usable_cpus() if local else None, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # the caller shows progress (on_record)
    ray.data.DataContext.get_current().enable_progress_bars = False
    start = time.perf_counter()
    try:
        actors = actors or max(1, int(ray.cluster_resources().get("CPU", 1) // threads))
        counts = {DONE: 0, FAILED: 0}
        if todo:
            items = [{"image": path, "name": output_name(path, image_dir)} for path in todo]
            options = {"backend": backend, "precision": precision, "threads": threads, "slide": slide}
            results = ray.data.from_items(items).map_batches(
                ImageSegmenter, fn_constructor_kwargs={"model_dir": os.path.abspath(model_dir),
                                                       "save_dir": os.path.abspath(save_dir),
                                                       "predictor_options": options, "overlays": overlays},
                batch_size=batch_size, concurrency=actors, num_cpus=threads)
            with open(os.path.join(save_dir, MANIFEST_FILE), "a") as manifest:
                for row in results.iter_rows():
                    manifest.write(row["record"] + "\n")
                    manifest.flush()
                    record = ManifestRecord.from_json(row["record"])
                    counts[record.status] += 1
                    if on_record:
                        on_record(record)
        nodes = len([node for node in ray.nodes() if node["Alive"]])
    finally:
        if started:
            ray.shutdown()
    return JobReport(len(image_list), len(image_list) - len(todo), counts[DONE], counts[FAILED],
                     os.path.join(save_dir, MANIFEST_FILE), time.perf_counter() - start, actors, nodes)
