"""Writing a file or a folder so that it is there whole or not at all.

It is written beside its place under another name, then renamed over it (atomic on POSIX), so a
process killed mid-write leaves the previous one, or none, never a truncated one that a later run
would take for whole: training checkpoints, converted weights, the weights cache's pins and
extracted archives, converted labels.
"""
import contextlib
import os
import shutil

PARTIAL_SUFFIX = ".partial"


@contextlib.contextmanager
def atomic_path(target, suffix=PARTIAL_SUFFIX):
    """A path beside ``target`` to write a file or folder to: renamed to ``target`` when the block
    ends, removed when it raises (a leftover of a killed run is removed before the block).

    Args:
        target (str): Where the file or folder ends up; a file there is replaced.
        suffix (str): Appended to ``target`` for the path written: make it unique (a random part)
            where several processes may write ``target`` at once.
    """
    partial = f"{os.fspath(target)}{suffix}"
    _remove(partial)
    try:
        yield partial
        os.replace(partial, target)
    except BaseException:
        _remove(partial)
        raise


def _remove(path):
    """Delete the file or folder at ``path``, if any."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
