"""Training checkpoints that survive a kill at any moment, and finding the newest complete one.

PaddleSeg's trainer writes ``save_dir/iter_N/model.pdparams`` and ``model.pdopt`` in place, so a job
killed mid-write leaves a truncated file that ``--resume_model`` then fails on. ``paddleseg train``
runs the trainer inside ``compat.atomic_saves()``, where every ``paddle.save`` writes a temporary
file and renames it (atomic on POSIX), so a checkpoint file either exists whole or not at all;
``latest_checkpoint`` picks the newest ``iter_N`` whose files are all there.
"""
import os
import re

from ..errors import UserError

CHECKPOINT_FILES = ("model.pdparams", "model.pdopt")
CHECKPOINT_DIR = re.compile(r"^iter_(\d+)$")


def missing_files(checkpoint_dir):
    """The files of ``CHECKPOINT_FILES`` not (yet) in ``checkpoint_dir``."""
    return [name for name in CHECKPOINT_FILES if not os.path.isfile(os.path.join(checkpoint_dir, name))]


def latest_checkpoint(save_dir):
    """The newest complete ``save_dir/iter_N`` directory, or None."""
    if not os.path.isdir(save_dir):
        return None
    found = sorted((int(match.group(1)), name) for name in os.listdir(save_dir)
                   if (match := CHECKPOINT_DIR.match(name)) and not missing_files(os.path.join(save_dir, name)))
    return os.path.join(save_dir, found[-1][1]) if found else None


def resolve_resume(resume_model, save_dir):
    """Turn ``--resume_model`` (a checkpoint dir, "auto" or None) into a complete checkpoint or None."""
    if resume_model is None:
        return None
    if resume_model == "auto":
        return latest_checkpoint(save_dir)
    name = os.path.basename(os.path.normpath(resume_model))
    if not os.path.isdir(resume_model) or not CHECKPOINT_DIR.match(name):
        raise UserError(f"--resume_model {resume_model}: expected a checkpoint directory named iter_N "
                        f"(as written to --save_dir), or 'auto'")
    missing = missing_files(resume_model)
    if missing:
        raise UserError(f"--resume_model {resume_model} is an incomplete checkpoint (missing "
                        f"{', '.join(missing)}); use an earlier iter_N or --resume_model auto")
    return resume_model
