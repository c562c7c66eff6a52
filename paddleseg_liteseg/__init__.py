"""PP-LiteSeg as PaddleSeg components.

Importing this package registers ``LiteSeg``, ``UAFM``, ``SPPM``, ``FLD``, ``LiteSegHead`` and the
``CamVid`` dataset in PaddleSeg's ``manager`` registries, puts a faster, equal
``OhemCrossEntropyLoss`` in place of PaddleSeg's (see ``losses``), makes PaddleSeg 2.8's trainer,
losses and evaluator work on Paddle 3 (see ``compat``), and makes every ``paddle.load`` of the
process refuse checkpoints that carry code (see ``weights.paddle_load_guard``). The Python API: ``build_model`` (a config
file, shipped name or dict to a model), ``Predictor`` (images to label maps and overlays),
``SlideWindow`` (the Predictor's sliding window over large images), ``export`` (as
``paddleseg export``) and ``segment_with_ray`` (``paddleseg infer --ray``).
"""
import importlib.util
import warnings

if importlib.util.find_spec("paddle") is None:
    raise ImportError(
        "paddleseg-liteseg needs PaddlePaddle 3.x, which is not installed. Pick the build for your "
        "machine: pip install 'paddleseg-liteseg[cpu]' (CPU), or for CUDA paddlepaddle-gpu from "
        "Paddle's index (the README's Installing section gives the command).")

# Paddle warns on import that its C++-extension builder found no ccache; this plugin builds none.
warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)

from . import cpu_settings  # noqa: E402,F401  (reads OMP_NUM_THREADS before Paddle sets it)
from . import compat  # noqa: E402
from .weights import paddle_load_guard  # noqa: E402

paddle_load_guard.install()  # a security measure for the whole process: see weights.paddle_load_guard
compat.apply()

from . import datasets, losses, models  # noqa: E402,F401

losses.register()
from .models import FLD, SPPM, UAFM, LiteSeg, LiteSegHead, load_pretrained  # noqa: E402,F401
from .api import build_model, export  # noqa: E402
from .predictor import Predictor  # noqa: E402
from .deploy.running.sliding_window import SlideWindow  # noqa: E402
from .batch.ray_job import segment_with_ray  # noqa: E402

__all__ = ["build_model", "Predictor", "SlideWindow", "export", "segment_with_ray", "LiteSeg", "UAFM", "SPPM", "FLD", "LiteSegHead", "load_pretrained"]

__version__ = "0.1.0"
