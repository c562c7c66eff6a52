"""Fetch weights by URL into the plugin's cache: atomic, resumable, verified, and quick to fail offline.

A file is downloaded to ``<path>.part`` and renamed to its cache path only once it is whole (and
matches the size and sha256 given), so a partial file is never taken for a whole one. A broken
connection is resumed with an HTTP Range request, also by the next run. ``.tar.gz`` archives (the
ImageNet backbones) are extracted next to them, refusing members that would land outside.
Offline, the error names the URL and the exact cache path to put the file at.

Pinned on first use: PaddleSeg publishes no checksums for its weights, so the first download writes
``<path>.pin`` beside the file (JSON: url, size, sha256; atomically, before the file itself lands),
and every later ``download`` of that URL checks the cached file against it, as does a new download
of it (the file deleted but its pin kept, or a resumed ``.part``): a file changed in the cache or on
the server is refused. The cached file is hashed on every load, not skipped when its size and mtime
are unchanged: a same-size edit within the mtime's resolution, or with its mtime restored (``cp -p``,
``rsync -t``), would pass that shortcut. A size and sha256 given by the caller (the official table)
take precedence over the pin.

PaddleSeg's own downloads (a backbone's ``pretrained`` URL) fail with a long requests traceback;
``compat`` turns that into the same one-line ``DownloadError``.
"""
import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import uuid

from ..errors import UserError
from ..files.atomic import atomic_path

CACHE_ENV = "PADDLESEG_LITESEG_CACHE"
TIMEOUT_SECONDS = 10.0
ATTEMPTS = 5  # connections tried while each one still brings bytes
CHUNK_BYTES = 1 << 20
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
WEIGHTS_SUFFIXES = (".pdparams", ".safetensors")
PIN_SUFFIX = ".pin"


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


def pin_path(path):
    """Where the size and sha256 of the cached file ``path`` are recorded: ``<path>.pin``."""
    return f"{path}{PIN_SUFFIX}"


def download(url, directory=None, timeout=None, size=None, sha256=None):
    """Return the local path of ``url``, downloading it once into ``directory`` (the cache).

    ``timeout`` bounds connecting and each read, so an unreachable host fails in seconds instead
    of hanging a training job at start-up. ``size`` (bytes) and ``sha256``, where known, must match;
    otherwise the file's pin (``pin_path``) must, written by its first download. A cached file
    without a pin (downloaded by an older version) is pinned by this call: trust on first use.
    """
    target = cache_path(url, directory)
    if os.path.isfile(target):
        return _checked(url, target, size, sha256)
    partial = f"{target}.part"
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with _locked(f"{target}.lock"):
        if os.path.isfile(target):  # another process finished it meanwhile
            return _checked(url, target, size, sha256)
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
        _verify(url, partial, target, total, size, sha256)
        os.replace(partial, target)  # after its pin: a file in the cache always has one
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
    with atomic_path(directory, ".part") as partial:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(partial, filter="data")  # refuses absolute paths, "..", links outside
        except (tarfile.TarError, OSError) as error:
            raise DownloadError(f"{archive} is not a safe, readable archive ({error}); delete it to "
                                "download it again") from None
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
            return have
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


def _verify(url, partial, target, total, size, sha256):
    """Check a finished download against ``size``/``sha256`` and the pin; pin it, or delete it.

    ``total`` is the size the server announced (None if it did not): short of the expected size
    without one, the transfer may have been cut, and the next run resumes it.
    """
    pin = None if sha256 else _read_pin(target)  # a given sha256 names the bytes by itself
    got = _size(partial)
    wanted = size if size is not None else pin and pin["size"]
    if wanted is not None and got < wanted and total is None:
        raise DownloadError(f"Could not download {url}: got {got} of {wanted} bytes; run again to resume "
                            "(nothing was put in the cache)")
    if size is not None and got != size:
        os.remove(partial)
        raise DownloadError(f"Could not download {url}: got {got} of {size} bytes; deleted it "
                            "(nothing was put in the cache)")
    digest = _sha256(partial)
    if sha256 and digest != sha256.lower():
        os.remove(partial)
        raise DownloadError(f"{url} is corrupt: its sha256 is {digest}, expected {sha256}; "
                            "deleted it (nothing was put in the cache)")
    changed = _change(pin, got, digest)
    if changed:
        os.remove(partial)
        raise DownloadError(f"{url} changed on the server since it was first downloaded: {changed} (pinned "
                            f"in {pin_path(target)}); deleted the download (nothing was put in the cache). "
                            f"If the new file is expected, delete {pin_path(target)} and run again.")
    _write_pin(target, url, got, digest)


def _checked(url, target, size, sha256):
    """``target``, the cached file of ``url``, once it matches ``size``/``sha256`` and its pin.

    A changed file is refused, not deleted: the message says which paths to delete to fetch it
    again. A file without a pin is pinned here (trust on first use).
    """
    pin = _read_pin(target)
    got, digest = _size(target), _sha256(target)
    published = _change({"size": size, "sha256": sha256}, got, digest)
    if published:
        raise DownloadError(f"{target} does not match what {url} should be: {published}; refused to load it. "
                            f"Delete {target} to download it again.")
    changed = None if sha256 else _change(pin, got, digest)
    if changed:
        raise DownloadError(f"{target} changed since it was downloaded from {url}: {changed} (pinned in "
                            f"{pin_path(target)}); refused to load it. Delete {target} to download it again "
                            f"(checked against the pin), and also {pin_path(target)} to accept whatever the "
                            "server has now.")
    if pin is None or _change(pin, got, digest):  # unpinned, or a stale pin the given sha256 overrides
        with contextlib.suppress(OSError):  # a read-only cache still loads, checked as above
            _write_pin(target, url, got, digest)
    return target


def _change(expected, got, digest):
    """How a file of ``got`` bytes and sha256 ``digest`` differs from ``expected`` (a pin, or size and
    sha256 either of which may be None), as ``size X -> Y bytes`` or ``sha256 a -> b``; else None."""
    if expected is None:
        return None
    if expected["size"] is not None and got != expected["size"]:
        return f"size {expected['size']} -> {got} bytes"
    if expected["sha256"] and digest != expected["sha256"].lower():
        return f"sha256 {expected['sha256'].lower()} -> {digest}"
    return None


def _read_pin(target):
    """The pin of the cached file ``target`` (url, size, sha256), or None where it has none."""
    path = pin_path(target)
    try:
        with open(path) as file:
            pin = json.load(file)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise DownloadError(f"{path} is not a readable pin ({error}); delete it and {target} to download "
                            "the file again") from None
    if not (isinstance(pin, dict) and isinstance(pin.get("size"), int) and isinstance(pin.get("sha256"), str)):
        raise DownloadError(f"{path} is not a pin (JSON with the file's size and sha256); delete it and "
                            f"{target} to download the file again")
    return {"url": pin.get("url"), "size": pin["size"], "sha256": pin["sha256"]}


def _write_pin(target, url, size, digest):
    """Record ``target``'s size and sha256 in its pin, atomically (a unique temporary file, renamed)."""
    with atomic_path(pin_path(target), f".{uuid.uuid4().hex}.part") as temporary, open(temporary, "x") as file:
        json.dump({"url": url, "size": size, "sha256": digest}, file, indent=1)
        file.write("\n")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


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
