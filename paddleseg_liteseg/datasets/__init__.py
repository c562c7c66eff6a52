"""Datasets: importing this registers ``CamVid`` in PaddleSeg's ``manager.DATASETS``."""
from . import toy  # noqa: F401
from .camvid import CamVid  # noqa: F401
