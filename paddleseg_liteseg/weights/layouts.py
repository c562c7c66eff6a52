"""Checkpoints: PaddleSeg's official PP-LiteSeg key layout mapped to this plugin's, loaded strictly.

Official checkpoints (``PPLiteSeg`` in PaddleSeg) name the decoder ``ppseg_head.arm_list.*`` and the
heads ``seg_heads.*``. ``convert_official`` renames every key by ``OFFICIAL_KEY_MAP`` and fails on
any key it does not know, so nothing is dropped silently; ``convert_to_official`` is its inverse.
``load_pretrained`` then loads all or nothing: only classifier layers whose shape differs
(fine-tuning to another ``num_classes``) may be skipped, and that is logged. Files are read by
``safe_load`` (no code from a pickle runs) and may be ``.pdparams`` or ``.safetensors``.
"""
import os
import re

import numpy as np
import paddle
from paddleseg.utils import logger

from ..errors import UserError
from ..files.atomic import atomic_path
from .official import resolve
from .safe_load import SAFETENSORS_SUFFIX, UnsafeCheckpointError, load

OFFICIAL_KEY_MAP = [  # (PaddleSeg PPLiteSeg key pattern, LiteSeg replacement)
    (r"^backbone\.", "backbone."),
    (r"^ppseg_head\.cm\.stages\.(\d+)\.1\.", r"context.stages.\1.conv."),
    (r"^ppseg_head\.cm\.conv_out\.", "context.conv_out."),
    (r"^ppseg_head\.arm_list\.(\d+)\.conv_x\.", r"decoder.fusions.\1.conv_low."),
    (r"^ppseg_head\.arm_list\.(\d+)\.conv_out\.", r"decoder.fusions.\1.conv_out."),
    (r"^ppseg_head\.arm_list\.(\d+)\.conv_xy_atten\.", r"decoder.fusions.\1.attention.layers."),
    (r"^seg_heads\.(\d+)\.conv\.", r"heads.\1.conv."),
    (r"^seg_heads\.(\d+)\.conv_out\.", r"heads.\1.classifier."),
]
# UAFM_SpAtten's frozen ``_scale`` (always 1.0): LiteSeg writes the 1 into its fusion formula.
OFFICIAL_CONSTANT_ONE = re.compile(r"^ppseg_head\.arm_list\.\d+\._scale$")
FUSION = re.compile(r"^decoder\.fusions\.(\d+)\.")
SPATIAL_ATTENTION_INPUTS = 4  # UAFM_SpAtten's first conv: mean and max of the low and high features


def _inverse(pattern, replacement):
    r"""The (pattern, replacement) undoing one ``OFFICIAL_KEY_MAP`` rule (``(\d+)`` <-> ``\1``)."""
    inverse_pattern = "^" + r"(\d+)".join(re.escape(part) for part in replacement.split(r"\1"))
    return inverse_pattern, pattern[1:].replace(r"(\d+)", r"\1").replace("\\.", ".")


PLUGIN_KEY_MAP = [_inverse(*rule) for rule in OFFICIAL_KEY_MAP]  # LiteSeg key -> PPLiteSeg key
CLASSIFIER = re.compile(r"^(heads\.\d+\.classifier|seg_heads\.\d+\.conv_out)\.")  # plugin, official
MAX_LISTED_KEYS = 10
LAYOUTS = ("liteseg", "paddleseg")  # this plugin's keys, PaddleSeg's PPLiteSeg keys
CHECKPOINT_NAMES = ("model.pdparams", "model.safetensors")  # looked for in a checkpoint directory


class CheckpointError(UserError, ValueError):
    """A file that is not a (compatible) PP-LiteSeg checkpoint; the message names it and its keys."""


def is_official_layout(state_dict):
    return any(key.startswith(("ppseg_head.", "seg_heads.")) for key in state_dict)


def convert_official(state_dict, source="checkpoint"):
    """Rename an official PaddleSeg PP-LiteSeg state dict to LiteSeg's keys."""
    converted, unknown = {}, []
    for key, value in state_dict.items():
        if OFFICIAL_CONSTANT_ONE.match(key):
            if not np.allclose(np.asarray(value), 1.0):
                raise CheckpointError(f"{source}: {key} = {np.asarray(value)}; LiteSeg assumes "
                                      "PaddleSeg's frozen constant 1.0 there")
            continue
        if not _rename(key, value, OFFICIAL_KEY_MAP, converted):
            unknown.append(key)
    if unknown:
        raise CheckpointError(f"{source} has keys that are not part of PaddleSeg's PP-LiteSeg: "
                              f"{_listing(unknown)}")
    return converted


def convert_to_official(state_dict, source="checkpoint"):
    """Rename a LiteSeg state dict to PaddleSeg's ``PPLiteSeg`` keys, adding UAFM's ``_scale`` 1.0.

    PaddleSeg's PP-LiteSeg fuses with spatial attention (``UAFM_SpAtten``), whose first conv reads
    the 4 mean/max maps; a LiteSeg with another attention has no such layout and is refused.
    """
    fusions = sorted({match.group(1) for key in state_dict if (match := FUSION.match(key))})
    for index in fusions:
        attention = state_dict.get(f"decoder.fusions.{index}.attention.layers.0._conv.weight")
        if attention is None or attention.shape[1] != SPATIAL_ATTENTION_INPUTS:
            raise CheckpointError(f"{source}: decoder.fusions.{index} does not use UAFM's spatial attention, "
                                  "the only one PaddleSeg's PPLiteSeg layout holds")
    converted = {}
    unknown = [key for key, value in state_dict.items() if not _rename(key, value, PLUGIN_KEY_MAP, converted)]
    if unknown:
        raise CheckpointError(f"{source} has keys that PaddleSeg's PP-LiteSeg does not have: "
                              f"{_listing(unknown)}")
    converted.update({f"ppseg_head.arm_list.{index}._scale": np.ones([1], "float32") for index in fusions})
    return converted


def _rename(key, value, key_map, converted):
    """Put ``value`` into ``converted`` under the first renaming of ``key`` by ``key_map``
    ((pattern, replacement) pairs); False where no pattern matches."""
    for pattern, replacement in key_map:
        new_key, matched = re.subn(pattern, replacement, key)
        if matched:
            converted[new_key] = value
            return True
    return False


def read_checkpoint(path, convert=True):
    """Load a state dict of numpy arrays from ``path`` (a .pdparams or .safetensors file, or a
    directory holding one as ``model.*``); with ``convert``, in LiteSeg's layout whatever layout the
    file uses. A pickle naming anything but tensors raises ``UnsafeCheckpointError``."""
    if os.path.isdir(path):
        path = next((os.path.join(path, name) for name in CHECKPOINT_NAMES
                     if os.path.isfile(os.path.join(path, name))), os.path.join(path, CHECKPOINT_NAMES[0]))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint not found: {path}")
    try:
        state_dict = load(path, return_numpy=True)
    except UnsafeCheckpointError:
        raise
    except Exception as error:  # paddle.load raises many types for truncated or foreign files
        raise CheckpointError(f"{path} is not a readable Paddle checkpoint "
                              f"({type(error).__name__}: {error})") from None
    if not isinstance(state_dict, dict) or not all(
            isinstance(value, np.ndarray) for value in state_dict.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    if convert and is_official_layout(state_dict):
        state_dict = convert_official(state_dict, source=path)
    return state_dict


def load_pretrained(model, pretrained):
    """Load ``pretrained`` (path, URL or official name) into ``model`` completely, or raise and load
    nothing.

    Works for any PaddleSeg model; official PP-LiteSeg checkpoints are converted when ``model`` uses
    LiteSeg's layout. Classifier weights whose shape differs from the model's (another
    ``num_classes``) keep their fresh initialisation; that is the fine-tuning case, logged in one line.
    """
    path = resolve(pretrained)
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    state_dict = read_checkpoint(path, convert=not is_official_layout(expected))
    missing = sorted(set(expected) - set(state_dict))
    foreign = sorted(set(state_dict) - set(expected))
    mismatched = sorted(key for key in set(expected) & set(state_dict)
                        if tuple(state_dict[key].shape) != expected[key])
    skipped = [key for key in mismatched if CLASSIFIER.match(key)]
    wrong_shape = [f"{key} {list(state_dict[key].shape)} vs {list(expected[key])}"
                   for key in mismatched if key not in skipped]
    problems = [f"{what}: {_listing(keys)}" for what, keys in
                [("missing", missing), ("unexpected", foreign), ("shape mismatch", wrong_shape)] if keys]
    if problems:
        raise CheckpointError(f"{pretrained} does not fit this {type(model).__name__} "
                              f"(is it a PP-LiteSeg checkpoint of the same backbone and widths?); "
                              + "; ".join(problems))
    own = model.state_dict()
    for key in skipped:
        state_dict[key] = own[key]
    model.set_state_dict(state_dict)
    if skipped:
        shapes = ", ".join(f"{key} {list(expected[key])}" for key in skipped)
        logger.info(f"Loaded {len(expected) - len(skipped)}/{len(expected)} tensors from {pretrained}; skipped "
                    f"the classifiers, whose shapes differ (num_classes changed): {shapes}")
    else:
        logger.info(f"Loaded {len(state_dict)}/{len(expected)} tensors from {pretrained}")


def convert_checkpoint(source, target, layout="liteseg"):
    """Write ``source`` (a path, URL or official name; either layout) to ``target`` in ``layout``
    (one of ``LAYOUTS``); return the number of tensors written."""
    if layout not in LAYOUTS:
        raise UserError(f"layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    state_dict = read_checkpoint(resolve(source))
    if layout == "paddleseg":
        state_dict = convert_to_official(state_dict, source=source)
    write_checkpoint(state_dict, target)
    return len(state_dict)


def write_checkpoint(state_dict, target):
    """Write ``state_dict`` (numpy arrays) to ``target`` atomically: safetensors for a
    ``.safetensors`` name, else ``paddle.save``'s format."""
    from safetensors.numpy import save_file
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    with atomic_path(target) as partial:
        if target.endswith(SAFETENSORS_SUFFIX):
            save_file({key: np.ascontiguousarray(value) for key, value in state_dict.items()}, partial)
        else:
            paddle.save(state_dict, partial)


def _listing(keys):
    shown = ", ".join(keys[:MAX_LISTED_KEYS])
    return shown + (f" ... ({len(keys)} in all)" if len(keys) > MAX_LISTED_KEYS else "")
