"""``paddle.load`` that never runs code from the file: checkpoints are shared on the internet.

``paddle.load`` unpickles whatever the file holds, so a ``.pdparams`` whose pickle calls
``os.system`` runs that command. A pickle can only call what it names as a global; the files
``paddle.save`` writes (state dicts, PaddleSeg's ``model.pdopt`` with its LR scheduler state,
nested dicts, lists and tuples of tensors) name only numpy's array and scalar constructors and
``tuple``. ``load`` first unpickles the bytes with every other global refused, then hands the same
bytes to Paddle's own ``load`` for its post-processing. ``.safetensors`` files hold no code and go
to Paddle's safetensors reader.
"""
import io
import os
import pickle

from paddle.framework.io import load as paddle_load

from ..errors import UserError

SAFETENSORS_SUFFIX = ".safetensors"
# (module, name) of every global a pickle written by paddle.save may name; numpy 2 spells
# numpy.core as numpy._core.
ALLOWED_GLOBALS = frozenset(
    [(core, name) for core in ("numpy.core.multiarray", "numpy._core.multiarray")
     for name in ("_reconstruct", "scalar")]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("builtins", "tuple"),
       ("collections", "OrderedDict")])  # paddle.save writes nested state dicts as OrderedDicts


class UnsafeCheckpointError(UserError, ValueError):
    """A checkpoint whose pickle names a global that no Paddle checkpoint holds; nothing was run."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source):
        super().__init__(file, encoding="latin1")  # as paddle.load reads them
        self.source = source

    def find_class(self, module, name):
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafeCheckpointError(
                f"{self.source} refers to {module}.{name}, which no Paddle checkpoint holds: refused "
                f"to load it (nothing in it was run). Loading it would let it run code; use "
                f"checkpoints from sources you trust, or their .safetensors version")
        return super().find_class(module, name)


def check_pickle(data, source):
    """Unpickle ``data`` refusing foreign globals; False where ``data`` is not a pickle at all.

    Raises ``UnsafeCheckpointError`` naming ``source`` and the refused global.
    """
    try:
        _RestrictedUnpickler(io.BytesIO(data), source).load()
    except UnsafeCheckpointError:
        raise
    except Exception:  # not a pickle (Paddle's binary tensor format) or a truncated one
        return False
    return True


def load(path, **configs):
    """``paddle.load(path, **configs)``, refusing a pickle that names anything but tensors' globals.

    A pickle that fails to parse fails identically in Paddle's unpickler before it could reach a
    refused global, so such files go to ``paddle.load`` unchanged (it reads other formats too).
    """
    if configs.get("safetensors") or str(path).endswith(SAFETENSORS_SUFFIX):
        return paddle_load(path, **dict(configs, safetensors=True))
    if isinstance(path, (str, os.PathLike)) and os.path.isfile(path):
        with open(path, "rb") as file:
            data = file.read()
        if check_pickle(data, os.fspath(path)):
            return paddle_load(io.BytesIO(data), **configs)
    elif isinstance(path, io.BytesIO):
        check_pickle(path.getvalue()[path.tell():], "the checkpoint buffer")
    return paddle_load(path, **configs)
