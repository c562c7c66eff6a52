"""A directory built once per recipe and reused across test runs, keyed by a hash of the recipe.

A recipe is a JSON-able dict holding everything that changes what is built (settings, the text of
the configs and code it runs, library versions). The cache lives in ``$PADDLESEG_LITESEG_TEST_CACHE``
(an empty value turns caching off), else ``$XDG_CACHE_HOME/paddleseg-liteseg/tests`` (default
``~/.cache``). An entry is built in a temporary directory beside it and renamed into place, so a
run killed mid-build or a second run building the same entry never leaves a partial one; an entry
unused for two weeks is deleted.
"""
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

CACHE_ENV = "PADDLESEG_LITESEG_TEST_CACHE"
UNUSED_DAYS = 14  # an entry no run has used for this long is deleted


def cache_root():
    """The cache directory, or None where ``PADDLESEG_LITESEG_TEST_CACHE`` is set empty."""
    if CACHE_ENV in os.environ:
        return Path(os.environ[CACHE_ENV]) if os.environ[CACHE_ENV] else None
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "paddleseg-liteseg" / "tests"


def recipe_key(recipe):
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def files_digest(root, patterns):
    """sha256 over the relative paths and bytes of the files under ``root`` matching ``patterns``."""
    digest = hashlib.sha256()
    for path in sorted({path for pattern in patterns for path in Path(root).glob(pattern) if path.is_file()}):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cached_directory(name, recipe, build, scratch):
    """The directory ``build(directory)`` fills for ``recipe``: from the cache when an earlier run
    built it, else built now (in ``scratch`` when caching is off)."""
    root = cache_root()
    if root is None:
        directory = Path(scratch) / name
        directory.mkdir()
        build(directory)
        return directory
    entry = root / f"{name}-{recipe_key(recipe)}"
    if not entry.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{entry.name}."))
        try:
            build(staging)
            (staging / "recipe.json").write_text(json.dumps(recipe, sort_keys=True, indent=1))
            try:
                staging.rename(entry)
            except OSError:  # another run built the same entry first
                pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    os.utime(entry)  # its last use
    for old in root.glob(f"{name}-*"):
        if time.time() - old.stat().st_mtime > UNUSED_DAYS * 86400:
            shutil.rmtree(old, ignore_errors=True)
    return entry
