"""What export measured of each model file on each int8 runtime: its pixel agreement with fp32 and
its time. The int8 choice reads these; ``deploy.yaml`` records them under ``INT8_SCORES_KEY`` as
{runtime: {file: {"agreement", "ms"}}} (the fp32 file's among them), the layout every export has
written, so older exports read the same."""
from typing import NamedTuple


class Int8Score(NamedTuple):
    """One file on one runtime: the share of pixels whose label equals fp32's, and its best time in ms."""

    agreement: float
    ms: float


def scores_to_dict(scores):
    """{runtime: {file: Int8Score}} as ``deploy.yaml`` stores it."""
    return {runtime: {name: score._asdict() for name, score in files.items()} for runtime, files in scores.items()}


def scores_from_dict(stored):
    """``deploy.yaml``'s scores (None where it has none) as {runtime: {file: Int8Score}}."""
    return {runtime: {name: Int8Score(score["agreement"], score["ms"]) for name, score in files.items()}
            for runtime, files in (stored or {}).items()}
