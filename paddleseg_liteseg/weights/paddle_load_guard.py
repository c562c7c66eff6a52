"""A security measure, not a compatibility fix: every ``paddle.load`` in the process refuses
checkpoints that carry code.

``paddle.load`` unpickles, and a pickle can name any callable to run while it loads: a shared
``.pdparams`` could run code in PaddleSeg's ``load_pretrained_model``, ``load_entire_model`` and
``--resume_model``, or in any other library's ``paddle.load``. Importing ``paddleseg_liteseg``
therefore replaces ``paddle.load`` for the whole process by ``safe_load.load``, which unpickles
tensors, arrays and plain containers only and raises ``UnsafeCheckpointError`` for anything else
(nothing of such a file runs); what Paddle's own loader accepts otherwise loads as before. It also
hands PaddleSeg's ``load_pretrained_model`` the verified local file of an official weights name or
URL (``official.resolve``). It is installed on every Paddle version and is not turned off
by ``PADDLESEG_LITESEG_NO_COMPAT``; ``ORIGINALS`` keeps what it replaced.
"""
import paddle

ORIGINALS = {}  # 'module.attr' -> the callable that was replaced


def install():
    """Route ``paddle.load`` and PaddleSeg's ``load_pretrained_model`` through the checked loader (once)."""
    from paddleseg.utils import utils

    from . import safe_load
    from .official import resolve

    if ORIGINALS:
        return
    original_load_pretrained = utils.load_pretrained_model

    def load_pretrained_model(model, pretrained_model):
        """PaddleSeg's load_pretrained_model, given the local file of a name or URL."""
        return original_load_pretrained(model, resolve(pretrained_model) if pretrained_model else pretrained_model)

    ORIGINALS["paddle.load"], ORIGINALS["paddleseg.utils.utils.load_pretrained_model"] = paddle.load, original_load_pretrained
    paddle.load = safe_load.load
    utils.load_pretrained_model = load_pretrained_model
