"""Checkpoints: PaddleSeg's official PP-LiteSeg key layout mapped to this plugin's, loaded strictly.

Official checkpoints (``PPLiteSeg`` in PaddleSeg) name the decoder ``ppseg_head.arm_list.*`` and the
heads ``seg_heads.*``. ``convert_official`` renames every key by ``OFFICIAL_KEY_MAP`` and fails on
any key it does not know, so nothing is dropped silently. ``load_pretrained`` then loads all or
nothing: only classifier layers whose shape differs (fine-tuning to another ``num_classes``) may be
skipped, and that is logged.
"""
import os
import re

import numpy as np
import paddle
from paddleseg.utils import logger

from ..download import download, is_url
from ..errors import UserError

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
CLASSIFIER = re.compile(r"^(heads\.\d+\.classifier|seg_heads\.\d+\.conv_out)\.")  # plugin, official
MAX_LISTED_KEYS = 10


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
        for pattern, replacement in OFFICIAL_KEY_MAP:
            new_key, matched = re.subn(pattern, replacement, key)
            if matched:
                converted[new_key] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(f"{source} has keys that are not part of PaddleSeg's PP-LiteSeg: "
                              f"{_listing(unknown)}")
    return converted


def read_checkpoint(path, convert=True):
    """Load a state dict of numpy arrays from ``path`` (a .pdparams file or a directory holding
    ``model.pdparams``); with ``convert``, in LiteSeg's layout whatever layout the file uses."""
    if os.path.isdir(path):
        path = os.path.join(path, "model.pdparams")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint not found: {path}")
    try:
        state_dict = paddle.load(path, return_numpy=True)
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
    """Load ``pretrained`` (path or URL) into ``model`` completely, or raise and load nothing.

    Works for any PaddleSeg model; official PP-LiteSeg checkpoints are converted when ``model`` uses
    LiteSeg's layout. Classifier weights whose shape differs from the model's (another
    ``num_classes``) keep their fresh initialisation; that is the fine-tuning case, logged in one line.
    """
    path = download(pretrained) if is_url(pretrained) else pretrained
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


def convert_checkpoint(source, target):
    """Write ``source`` (official or plugin layout) to ``target`` in LiteSeg's layout; return key count."""
    state_dict = read_checkpoint(source)
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    paddle.save(state_dict, target)
    return len(state_dict)


def _listing(keys):
    shown = ", ".join(keys[:MAX_LISTED_KEYS])
    return shown + (f" ... ({len(keys)} in all)" if len(keys) > MAX_LISTED_KEYS else "")
