"""PP-LiteSeg as PaddleSeg components.

Importing this package registers ``LiteSeg``, ``UAFM``, ``SPPM``, ``FLD``, ``LiteSegHead`` and the
``CamVid`` dataset in PaddleSeg's ``manager`` registries, and makes PaddleSeg 2.8's trainer,
losses and evaluator work on Paddle 3 (see ``compat``).
"""
import importlib.util
import warnings

if importlib.util.find_spec("paddle") is None:
    raise ImportError(
        "paddleseg-liteseg needs PaddlePaddle 3.x, which is not installed. Pick the build for your "
        "machine: pip install 'paddleseg-liteseg[cpu]' (CPU) or 'paddleseg-liteseg[gpu]' (CUDA; "
        "see the README for where Paddle 3 GPU wheels come from).")

# Paddle warns on import that its C++-extension builder found no ccache; this plugin builds none.
warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)

from . import compat  # noqa: E402

compat.apply()

from . import datasets, models  # noqa: E402,F401
from .models import FLD, SPPM, UAFM, LiteSeg, LiteSegHead, load_pretrained  # noqa: E402,F401

__version__ = "0.1.0"
