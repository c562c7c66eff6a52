"""Fetch checkpoints by URL into PaddleSeg's cache, failing within seconds when offline.

PaddleSeg's own downloads (a backbone's ``pretrained`` URL) fail with a long requests traceback;
``compat`` turns that into the same one-line ``DownloadError``.
"""
import hashlib
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from .errors import UserError


TIMEOUT_SECONDS = 10.0


class DownloadError(UserError, RuntimeError):
    """A URL could not be fetched; the message names it and the way out (a local path)."""


def is_url(path):
    return urllib.parse.urlparse(str(path)).scheme in ("http", "https", "ftp")


def cache_dir():
    from paddleseg.utils.env import seg_env
    return os.path.join(seg_env.PRETRAINED_MODEL_HOME, "liteseg")


def download(url, directory=None, timeout=None):
    """Return the local path of ``url``, downloading it once into ``directory`` (the cache).

    ``timeout`` bounds connecting and each read, so an unreachable host fails in seconds
    instead of hanging a training job at start-up.
    """
    directory = directory or cache_dir()
    timeout = timeout or TIMEOUT_SECONDS
    digest = hashlib.sha1(url.encode()).hexdigest()[:8]
    target = os.path.join(directory, f"{digest}_{os.path.basename(urllib.parse.urlparse(url).path)}")
    if os.path.isfile(target):
        return target
    os.makedirs(directory, exist_ok=True)
    partial = tempfile.NamedTemporaryFile(dir=directory, suffix=".part", delete=False)
    try:
        with partial, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, partial)
        os.replace(partial.name, target)
    except (urllib.error.URLError, socket.timeout, OSError, ValueError) as error:
        raise _download_error(url, getattr(error, "reason", error)) from None
    finally:
        if os.path.exists(partial.name):
            os.remove(partial.name)
    return target


def _download_error(url, reason):
    return DownloadError(f"Could not download {url}: {reason}. If this machine is offline, download the "
                         f"file elsewhere and pass its local path instead of the URL.")
