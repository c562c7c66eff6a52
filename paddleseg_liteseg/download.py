"""Fetch weights by URL into the plugin's cache: atomic, resumable, verified, and quick to fail offline.

A file is downloaded to ``<path>.part`` and renamed to its cache path only once it is whole (and
matches the size and sha256 given), so a partial file is never taken for a whole one. A broken
connection is resumed with an HTTP Range request, also by the next run. ``.tar.gz`` archives (the
ImageNet backbones) are extracted next to them, refusing members that would land outside.
Offline, the error names the URL and the exact cache path to put the file at.

PaddleSeg's own downloads (a backbone's ``pretrained`` URL) fail with a long requests traceback;
``compat`` turns that into the same one-line ``DownloadError``.
"""
import contextlib
import fcntl
import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request

from .errors import UserError

CACHE_ENV = "PADDLESEG_LITESEG_CACHE"
TIMEOUT_SECONDS = 10.0
ATTEMPTS = 5  # connections tried while each one still brings bytes
CHUNK_BYTES = 1 << 20
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
WEIGHTS_SUFFIXES = (".pdparams", ".safetensors")


class DownloadError(UserError, RuntimeError):
    """A URL could not be fetched or verified; the message names it and the way out."""


def is_url(path):
    return urllib.parse.urlparse(str(path)).scheme in ("http", "https", "ftp")


def cache_dir():
    """``$PADDLESEG_LITESEG_CACHE``, else ``paddleseg-liteseg`` in the user's cache directory."""
    return os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "paddleseg-liteseg")


def cache_path(url, directory=None):
    """Where ``download(url)`` keeps the file: ``<cache>/<host>/<path of the URL>``."""
    parsed = urllib.parse.urlparse(url)
    parts = [part for part in urllib.parse.unquote(parsed.path).split("/") if part not in ("", ".", "..")]
    return os.path.join(directory or cache_dir(), parsed.netloc.replace(":", "_"), *parts)


def download(url, directory=None, timeout=None, size=None, sha256=None):
    """Return the local path of ``url``, downloading it once into ``directory`` (the cache).

    ``timeout`` bounds connecting and each read, so an unreachable host fails in seconds instead
    of hanging a training job at start-up. ``size`` (bytes) and ``sha256``, where known, must match.
    """
    target = cache_path(url, directory)
    if os.path.isfile(target):
        return target
    partial = f"{target}.part"
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with _locked(f"{target}.lock"):
        if os.path.isfile(target):  # another process finished it meanwhile
            return target
        total = None
        for _attempt in range(ATTEMPTS):
            before = _size(partial)
            try:
                total = _fetch(url, partial, timeout or TIMEOUT_SECONDS)
                break
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
                if _size(partial) <= before:  # no progress: offline, refused or cut at once
                    raise _download_error(url, getattr(error, "reason", None) or error, target) from None
        else:
            raise DownloadError(f"Could not download {url}: the connection broke {ATTEMPTS} times; run "
                                "again to resume (nothing was put in the cache)")
        _verify(url, partial, size or total, sha256)
        os.replace(partial, target)
    return target


def fetch(url, size=None, sha256=None):
    """The weights file behind ``url``: ``download``ed, and for an archive extracted (once)."""
    path = download(url, size=size, sha256=sha256)
    if not path.endswith(ARCHIVE_SUFFIXES):
        return path
    directory = extract(path)
    found = sorted(os.path.join(root, name) for root, _, names in os.walk(directory)
                   for name in names if name.endswith(WEIGHTS_SUFFIXES))
    if len(found) != 1:
        raise DownloadError(f"{url}: expected one weights file in the archive, found "
                            f"{len(found)} in {directory}")
    return found[0]


def extract(archive):
    """Extract ``archive`` into the directory named after it (once, atomically); return that."""
    directory = archive[:-len(next(s for s in ARCHIVE_SUFFIXES if archive.endswith(s)))]
    if os.path.isdir(directory):
        return directory
    partial = f"{directory}.part"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(partial, filter="data")  # refuses absolute paths, "..", links outside
    except (tarfile.TarError, OSError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise DownloadError(f"{archive} is not a safe, readable archive ({error}); delete it to "
                            "download it again") from None
    os.replace(partial, directory)
    return directory


def _fetch(url, partial, timeout):
    """Append the rest of ``url`` to ``partial`` (a Range request when it has bytes); return the
    full size the server announced, or None."""
    from tqdm import tqdm

    have = _size(partial)
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # nothing after what we have: the file is complete
            return None
        raise
    with response:
        if have and response.status != 206:  # the server ignored the Range: start over
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with open(partial, "ab" if have else "wb") as file, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, leave=False, disable=None,
                desc=os.path.basename(partial[:-len(".part")])) as progress:
            while chunk := response.read(CHUNK_BYTES):
                file.write(chunk)
                progress.update(len(chunk))
    if total is not None and _size(partial) < total:
        raise http.client.IncompleteRead(b"", total - _size(partial))
    return total


def _verify(url, partial, size, sha256):
    got = _size(partial)
    if size is not None and got != size:
        if got > size:
            os.remove(partial)
        then = "run again to resume" if got < size else "deleted it"
        raise DownloadError(f"Could not download {url}: got {got} of {size} bytes; {then} "
                            "(nothing was put in the cache)")
    if sha256:
        digest = hashlib.sha256()
        with open(partial, "rb") as file:
            for block in iter(lambda: file.read(CHUNK_BYTES), b""):
                digest.update(block)
        if digest.hexdigest() != sha256.lower():
            os.remove(partial)
            raise DownloadError(f"{url} is corrupt: its sha256 is {digest.hexdigest()}, expected {sha256}; "
                                "deleted it (nothing was put in the cache)")


def _size(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


@contextlib.contextmanager
def _locked(path):
    """Hold an exclusive lock on ``path``: concurrent downloads of one URL take turns."""
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _download_error(url, reason, target=None):
    where = f"put it at {target}, or " if target else ""
    return DownloadError(f"Could not download {url}: {reason}. If this machine is offline, download the "
                         f"file elsewhere and {where}pass its local path instead of the URL.")
