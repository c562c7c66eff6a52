"""The manifest of a batch job: one JSON line per image, what it was turned into or why not.

``manifest.jsonl`` in the job's output folder: a user queries it (pandas, DuckDB, jq), and a job
run again reads it to skip what is done. Only the driver writes it, one line as each image's
result arrives, flushed, so a killed job loses at most the lines of results in flight; their
outputs are written again whole (``files.atomic``) by the next run.
"""
import dataclasses
import json
import os
from typing import Optional

MANIFEST_FILE = "manifest.jsonl"
DONE, FAILED = "done", "failed"


@dataclasses.dataclass(frozen=True)
class ManifestRecord:
    """One image's result.

    Attributes:
        image (str): The image, as the job was given it.
        status (str): "done" or "failed".
        output (str, optional): The label PNG, relative to the output folder.
        height, width (int, optional): The image's size.
        class_shares (dict, optional): {class id or name: share of the image's pixels}.
        seconds (float, optional): Reading, inference and writing of this image.
        node (str, optional): The Ray node that segmented it.
        error (str, optional): Why it failed.
    """

    image: str
    status: str
    output: Optional[str] = None
    height: Optional[int] = None
    width: Optional[int] = None
    class_shares: Optional[dict] = None
    seconds: Optional[float] = None
    node: Optional[str] = None
    error: Optional[str] = None

    def to_json(self):
        return json.dumps({key: value for key, value in dataclasses.asdict(self).items() if value is not None})

    @classmethod
    def from_json(cls, line):
        return cls(**json.loads(line))


def read_manifest(save_dir):
    """The records of ``save_dir``'s manifest, the last one of each image (an image failed once may
    be done later); a torn last line of a killed job is left out."""
    path = os.path.join(save_dir, MANIFEST_FILE)
    records = {}
    if os.path.isfile(path):
        with open(path) as file:
            for line in file:
                try:
                    record = ManifestRecord.from_json(line)
                except (ValueError, TypeError):
                    continue
                records[record.image] = record
    return records


def done_images(save_dir):
    """The images ``save_dir``'s manifest records as done whose label PNG is there."""
    return {image for image, record in read_manifest(save_dir).items()
            if record.status == DONE and os.path.isfile(os.path.join(save_dir, record.output))}
