"""Official weights by name: the table, names working wherever a weights path does (through the
verified, pinned cache), and a typo answered with the closest names."""
import hashlib
import io
import os
import tarfile

import numpy as np
import paddle
import pytest
from paddleseg.models.backbones import STDC1

from http_files import FileServer
from paddleseg_liteseg.cli import main
from paddleseg_liteseg.weights.download import DownloadError, cache_path, pin_path
from paddleseg_liteseg.weights.official import OFFICIAL_WEIGHTS, OfficialWeights, UnknownWeightsError, resolve
from reference_models import build_plugin

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
HEX_DIGITS = set("0123456789abcdef")
PADDLESEG_HOSTS = ("https://paddleseg.bj.bcebos.com/dygraph/", "https://bj.bcebos.com/paddleseg/")


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("PADDLESEG_LITESEG_CACHE", str(tmp_path / "cache"))
    server = FileServer()
    yield server
    server.stop()


def _publish(server, monkeypatch, name, path, data, checksums=True):
    """Serve ``data`` at ``path`` and list it as official weights ``name``, with its size and sha256
    unless ``checksums`` is False (as for PaddleSeg's real weights)."""
    server.files[path] = data
    known = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()} if checksums else {}
    monkeypatch.setitem(OFFICIAL_WEIGHTS, name, OfficialWeights(server.url(path), "test weights", **known))


def test_table_lists_paddleseg_published_weights():
    assert {"pp_liteseg_stdc1_cityscapes", "pp_liteseg_stdc2_cityscapes", "pp_liteseg_stdc1_camvid",
            "pp_liteseg_stdc2_camvid", "stdc1_imagenet", "stdc2_imagenet"} <= set(OFFICIAL_WEIGHTS)
    for name, entry in OFFICIAL_WEIGHTS.items():
        assert entry.url.startswith(PADDLESEG_HOSTS), name
        assert entry.config is None or os.path.isfile(os.path.join(REPO, entry.config)), name
        assert entry.sha256 is None or len(entry.sha256) == 64 and set(entry.sha256) <= HEX_DIGITS, name


def test_a_typo_suggests_the_closest_names(tmp_path, capsys):
    with pytest.raises(UnknownWeightsError, match=r"pp_liteseg_stdc1_cityscape is not a file, a URL or a name "
                                                  r"of official weights; did you mean pp_liteseg_stdc1_cityscapes or"):
        resolve("pp_liteseg_stdc1_cityscape")
    assert main(["convert-weights", "stdc1_imagnet", str(tmp_path / "out.pdparams")]) == 1
    assert "did you mean stdc1_imagenet" in capsys.readouterr().err


def test_paths_pass_through():
    assert resolve("nowhere/model.pdparams") == "nowhere/model.pdparams"
    assert resolve("model.pdparams") == "model.pdparams"


def test_model_pretrained_by_name(official_t_checkpoint, server, monkeypatch):
    path, _ = official_t_checkpoint  # (the session's model object may have been changed by other tests)
    _publish(server, monkeypatch, "pp_liteseg_test", "/dygraph/pp_liteseg_test/model.pdparams",
             open(path, "rb").read())
    model = build_plugin("T", pretrained="pp_liteseg_test")
    from_file = build_plugin("T", pretrained=path)
    x = paddle.randn([1, 3, 64, 128])
    model.eval(), from_file.eval()
    np.testing.assert_array_equal(model(x)[0].numpy(), from_file(x)[0].numpy())
    assert server.ranges == [None]


def test_backbone_pretrained_by_name_extracts_the_archive(server, monkeypatch, tmp_path):
    paddle.seed(3)
    backbone = STDC1()
    weights = tmp_path / "model.pdparams"
    paddle.save(backbone.state_dict(), str(weights))
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(str(weights), arcname="PP_STDCNet_test/model.pdparams")
    _publish(server, monkeypatch, "stdc1_test", "/paddleseg/dygraph/PP_STDCNet_test.tar.gz", archive.getvalue())
    loaded = STDC1(pretrained="stdc1_test")  # PaddleSeg's own loader, given the cached file
    for key, value in backbone.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key].numpy(), value.numpy())


@pytest.mark.parametrize("reference", ["name", "url"])
def test_official_weights_without_checksums_are_pinned_on_first_use(server, monkeypatch, reference):
    data = b"official weights" * 1000
    _publish(server, monkeypatch, "pp_liteseg_pinned", "/dygraph/pinned/model.pdparams", data, checksums=False)
    name_or_url = "pp_liteseg_pinned" if reference == "name" else OFFICIAL_WEIGHTS["pp_liteseg_pinned"].url
    path = resolve(name_or_url)
    assert path == cache_path(OFFICIAL_WEIGHTS["pp_liteseg_pinned"].url) and os.path.isfile(pin_path(path))
    assert resolve(name_or_url) == path and server.ranges == [None]
    with open(path, "r+b") as file:  # changed in the cache, same size
        file.write(b"O")
    with pytest.raises(DownloadError, match=f"{path} changed since it was downloaded from .*: sha256 "):
        resolve(name_or_url)
    os.remove(path)  # fetched again, but the server now has other bytes
    server.files["/dygraph/pinned/model.pdparams"] = data + b"!"
    with pytest.raises(DownloadError, match=f"changed on the server .*: size {len(data)} -> {len(data) + 1} "):
        resolve(name_or_url)
    assert not os.path.exists(path)


def test_published_checksums_are_checked_on_every_load(server, monkeypatch):
    data = b"official weights" * 1000
    _publish(server, monkeypatch, "pp_liteseg_published", "/dygraph/published/model.pdparams", data)
    path = resolve("pp_liteseg_published")
    with open(path, "r+b") as file:
        file.write(b"O")
    with pytest.raises(DownloadError, match=f"{path} does not match what .* should be: sha256 "):
        resolve("pp_liteseg_published")
