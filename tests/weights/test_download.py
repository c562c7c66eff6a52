"""Downloads into the cache: atomic, resumed with Range after a cut, verified, pinned on first use,
extracted safely, and offline one line naming the URL and the exact cache path to put the file at."""
import hashlib
import io
import json
import os
import socket
import tarfile
import time

import pytest
from paddleseg.models.backbones import STDC1

from http_files import FileServer
from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from paddleseg_liteseg.weights.download import DownloadError, cache_path, download, fetch, pin_path
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
    assert not os.path.exists(cache_path(url)) and not _leftovers(cache)  # whole as served: no resuming it


def test_cache_hit_needs_no_server():
    server = FileServer()
    server.files["/weights/model.pdparams"] = DATA
    url = server.url("/weights/model.pdparams")
    path = download(url)
    server.stop()
    assert download(url) == path and open(path, "rb").read() == DATA


def _pin(path):
    with open(pin_path(path)) as file:
        return json.load(file)


def test_first_download_writes_the_pin(server, cache):
    url = server.url("/weights/model.pdparams")
    path = download(url)
    assert _pin(path) == {"url": url, "size": len(DATA), "sha256": _sha256(DATA)}
    assert not _leftovers(cache)


def test_an_unchanged_file_loads_without_a_network_call(server):
    url = server.url("/weights/model.pdparams")
    path = download(url)
    assert download(url) == path and download(url) == path and server.ranges == [None]


@pytest.mark.parametrize("changed, change", [
    (DATA[:-1] + b"x", f"sha256 {_sha256(DATA)} -> {_sha256(DATA[:-1] + b'x')}"),
    (DATA + b"x", f"size {len(DATA)} -> {len(DATA) + 1} bytes")], ids=["same size", "other size"])
def test_a_file_changed_in_the_cache_is_refused(server, changed, change):
    url = server.url("/weights/model.pdparams")
    path = download(url)
    with open(path, "r+b") as file:  # in place: same inode, and for "same size" the same length
        file.write(changed)
    with pytest.raises(DownloadError) as error:
        download(url)
    assert str(error.value) == (
        f"{path} changed since it was downloaded from {url}: {change} (pinned in {path}.pin); refused to "
        f"load it. Delete {path} to download it again (checked against the pin), and also {path}.pin to "
        "accept whatever the server has now.")
    assert server.ranges == [None]  # refused without asking the server


@pytest.mark.parametrize("served", [DATA[:-1] + b"x", DATA + b"x", DATA[:-1]],
                         ids=["same size", "larger", "smaller"])
def test_a_file_changed_on_the_server_is_refused(server, cache, served):
    url = server.url("/weights/model.pdparams")
    path = download(url)
    os.remove(path)  # the pin stays
    server.files["/weights/model.pdparams"] = served
    with pytest.raises(DownloadError, match=f"{url} changed on the server since it was first downloaded: .* "
                                            f"delete {path}.pin and run again"):
        download(url)
    assert not os.path.exists(path) and not _leftovers(cache)
    assert _pin(path)["sha256"] == _sha256(DATA)


def test_a_resumed_download_is_checked_against_the_pin(server, cache):
    url = server.url("/weights/model.pdparams")
    path = download(url)
    os.remove(path)
    with open(f"{path}.part", "wb") as file:  # a cut download left behind
        file.write(DATA[:30000])
    server.files["/weights/model.pdparams"] = DATA[:-1] + b"x"
    with pytest.raises(DownloadError, match=f"{url} changed on the server .*: sha256 {_sha256(DATA)} -> "):
        download(url)
    assert server.ranges[-1] == "bytes=30000-" and not os.path.exists(path) and not _leftovers(cache)

    with open(f"{path}.part", "wb") as file:
        file.write(DATA[:30000])
    server.files["/weights/model.pdparams"] = DATA
    assert open(download(url), "rb").read() == DATA and server.ranges[-1] == "bytes=30000-"


def test_a_file_cached_without_a_pin_is_pinned_on_its_next_load(unreachable_url, cache):
    path = cache_path(unreachable_url)
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as file:  # as an older version left it: no pin
        file.write(DATA)
    assert download(unreachable_url) == path
    assert _pin(path) == {"url": unreachable_url, "size": len(DATA), "sha256": _sha256(DATA)}
    with open(path, "ab") as file:
        file.write(b"x")
    with pytest.raises(DownloadError, match=f"{path} changed since it was downloaded"):
        download(unreachable_url)


def test_a_given_sha256_takes_precedence_over_the_pin(server):
    url = server.url("/weights/model.pdparams")
    path = download(url)
    with open(pin_path(path), "w") as file:  # a stale pin: the published sha256 wins, and repins
        json.dump({"url": url, "size": 1, "sha256": _sha256(b"old")}, file)
    assert download(url, size=len(DATA), sha256=_sha256(DATA)) == path
    assert _pin(path)["sha256"] == _sha256(DATA)
    expected = _sha256(b"the published file")
    with pytest.raises(DownloadError, match=f"{path} does not match what {url} should be: sha256 {expected} -> "
                                            f"{_sha256(DATA)}; refused to load it. Delete {path} to download"):
        download(url, sha256=expected)


def test_an_unreadable_pin_is_refused_naming_it(server):
    url = server.url("/weights/model.pdparams")
    path = download(url)
    with open(pin_path(path), "w") as file:
        file.write("{not json")
    with pytest.raises(DownloadError, match=f"{path}.pin is not a readable pin .*; delete it and {path} to"):
        download(url)


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


def test_an_archive_is_pinned_and_a_changed_one_refused(server):
    server.files["/PP_STDCNet1.tar.gz"] = _tar_gz({"PP_STDCNet1/model.pdparams": DATA})
    url = server.url("/PP_STDCNet1.tar.gz")
    fetch(url)
    archive = cache_path(url)
    assert _pin(archive)["sha256"] == _sha256(server.files["/PP_STDCNet1.tar.gz"])
    with open(archive, "r+b") as file:
        file.seek(20)
        file.write(b"\0")
    with pytest.raises(DownloadError, match=f"{archive} changed since it was downloaded from {url}: sha256 "):
        fetch(url)


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
