"""Deployment, by concern, each package importing only those listed before it:

- ``exporting``: what ``paddleseg export`` writes (``export.write_inference_model``; the public
  entry is ``paddleseg_liteseg.export``) and ``ExportedModel``, which reads it back;
- ``running``: the runtimes (Paddle Inference, onnxruntime, OpenVINO: ``runtimes.create_runtime``),
  which one runs here and why (``runtime_choice``), the CPU's capabilities, timing;
- ``int8``: quantization on real images, each runtime's int8 file, the accuracy-aware search;
- ``measuring``: ``tune`` (the choice ``infer`` reads) and ``bench``.
"""
from .exporting.exported_model import ExportedModel  # noqa: F401  (the public API)
from .running.runtimes import create_runtime  # noqa: F401
