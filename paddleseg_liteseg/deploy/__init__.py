"""Deployment: an exported model (Paddle inference model, deploy.yaml, dynamic ONNX), its runtimes,
int8, the runtime choice, ``tune`` and ``bench``.

``export.write_inference_model`` writes a directory (``paddleseg_liteseg.export`` is the public
entry); ``ExportedModel.read`` reads it back for ``runtimes.create_runtime`` (Paddle Inference,
onnxruntime, OpenVINO) and ``paddleseg_liteseg.Predictor``; ``quantize`` adds int8 models;
``bench`` times them all.
"""
from .exported_model import ExportedModel  # noqa: F401  (the public API)
from .runtimes import create_runtime  # noqa: F401
