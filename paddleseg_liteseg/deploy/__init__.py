"""Deployment: export (Paddle inference model, deploy.yaml, dynamic ONNX), runtimes, int8, benchmarks.

``export`` writes a directory that ``runtimes.create_runtime`` (Paddle Inference, onnxruntime,
OpenVINO) and ``paddleseg_liteseg.Predictor`` read; ``quantize`` adds an int8 model; ``bench`` times them all.
"""
from .export import export, read_deploy_yaml  # noqa: F401  (the public API)
from .runtimes import create_runtime  # noqa: F401
