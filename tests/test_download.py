"""Downloads into the cache: atomic, resumed with Range after a cut, verified, extracted safely, and
offline one line naming the URL and the exact cache path to put the file at."""
import hashlib
import io
import os
import socket
import tarfile
import time

import pytest
from paddleseg.models.backbones import STDC1

from http_files import FileServer
from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from paddleseg_liteseg.download import DownloadError, cache_path, download, fetch
from toy_training import toy_config, write_config

DATA = bytes(range(256)) * 400  # 100 KiB


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PADDLESEG_LITESEG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def server():
    server = FileServer()
    server.files["/weights/model.pdparams"] = DATA
    yield server
    server.stop()


@pytest.fixture
def unreachable_url():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there: connections are refused
    return f"http://127.0.0.1:{port}/PP_STDCNet1.tar.gz"


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _leftovers(cache):
    return [name for _, _, names in os.walk(cache) for name in names if name.endswith(".part")]


def test_download_lands_at_its_cache_path(server, cache):
    url = server.url("/weights/model.pdparams")
    path = download(url, size=len(DATA), sha256=_sha256(DATA))
    host = f"127.0.0.1_{server.server_address[1]}"
    assert path == cache_path(url) == str(cache / host / "weights" / "model.pdparams")
    assert open(path, "rb").read() == DATA and not _leftovers(cache)


def test_a_cut_transfer_resumes_with_range(server, cache):
    server.cuts = [30000, 20000]
    path = download(server.url("/weights/model.pdparams"), sha256=_sha256(DATA))
    assert open(path, "rb").read() == DATA
    assert server.ranges == [None, "bytes=30000-", "bytes=50000-"]


def test_a_server_ignoring_range_is_read_from_the_start(server):
    server.cuts, server.ignore_range = [30000], True
    path = download(server.url("/weights/model.pdparams"), sha256=_sha256(DATA))
    assert open(path, "rb").read() == DATA and server.ranges == [None, "bytes=30000-"]


def test_a_partial_file_is_never_taken_whole_and_resumes_next_run(server, cache):
    url = server.url("/weights/model.pdparams")
    server.cuts = [30000, 0]  # the retry gets nothing: the run fails
    with pytest.raises(DownloadError, match=f"Could not download {url}"):
        download(url)
    assert not os.path.exists(cache_path(url)) and os.path.getsize(cache_path(url) + ".part") == 30000
    assert open(download(url), "rb").read() == DATA
    assert server.ranges[-1] == "bytes=30000-"


def test_corrupt_file_is_refused_and_deleted(server, cache):
    url = server.url("/weights/model.pdparams")
    expected = _sha256(b"the published file")
    with pytest.raises(DownloadError, match=f"{url} is corrupt: its sha256 is {_sha256(DATA)}, expected {expected}"):
        download(url, sha256=expected)
    assert not os.path.exists(cache_path(url)) and not _leftovers(cache)


def test_truncated_file_is_refused(server, cache):
    url = server.url("/weights/model.pdparams")
    with pytest.raises(DownloadError, match=f"Could not download {url}: got {len(DATA)} of {len(DATA) + 10} bytes"):
        download(url, size=len(DATA) + 10)
    assert not os.path.exists(cache_path(url))


def test_cache_hit_needs_no_server():
    server = FileServer()
    server.files["/weights/model.pdparams"] = DATA
    url = server.url("/weights/model.pdparams")
    path = download(url)
    server.stop()
    assert download(url) == path and open(path, "rb").read() == DATA


def _tar_gz(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_archive_is_extracted_once(server):
    server.files["/PP_STDCNet1.tar.gz"] = _tar_gz({"PP_STDCNet1/model.pdparams": DATA})
    url = server.url("/PP_STDCNet1.tar.gz")
    path = fetch(url)
    assert path == os.path.join(cache_path(url)[:-len(".tar.gz")], "PP_STDCNet1", "model.pdparams")
    assert open(path, "rb").read() == DATA
    assert fetch(url) == path and len(server.ranges) == 1


def test_archive_escaping_its_directory_is_refused(server, cache):
    server.files["/evil.tar.gz"] = _tar_gz({"../../escaped.pdparams": DATA})
    with pytest.raises(DownloadError, match="evil.tar.gz is not a safe, readable archive"):
        fetch(server.url("/evil.tar.gz"))
    assert not [name for _, _, names in os.walk(cache.parent) for name in names if name == "escaped.pdparams"]


def test_offline_names_the_url_and_the_cache_path(unreachable_url):
    start = time.monotonic()
    with pytest.raises(DownloadError) as error:
        STDC1(pretrained=unreachable_url)
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert message.startswith(f"Could not download {unreachable_url}: ")
    assert f"put it at {cache_path(unreachable_url)}, or pass its local path" in message


def test_command_prints_the_download_error_not_a_traceback(unreachable_url, tmp_path, capsys):
    make_toy_dataset(str(tmp_path), num_train=2, num_val=1, size=(64, 32))
    config = toy_config(tmp_path)
    config["model"]["backbone"] = {"pretrained": unreachable_url}
    path = write_config(tmp_path / "config.yml", config)
    assert main(["train", "--config", path, "--save_dir", str(tmp_path / "out"), "--device", "cpu"]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"paddleseg train: error: Could not download {unreachable_url}")
    assert "Traceback" not in error
