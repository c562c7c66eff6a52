import socket
import threading
import time

import numpy as np
import paddle
import pytest

from paddleseg_liteseg.weights.download import DownloadError
from paddleseg.utils import utils

from paddleseg_liteseg.weights.layouts import (CheckpointError, convert_checkpoint, convert_official, load_pretrained, read_checkpoint)
from reference_models import build_official, build_plugin, randomize_batch_norm_statistics

PARITY_ATOL = 1e-5


def _max_abs_diff(a, b):
    return float(np.abs(a.numpy() - b.numpy()).max())


@pytest.mark.parametrize("variant", ["T", "B"])
def test_official_checkpoint_gives_identical_outputs(variant, tmp_path):
    official = build_official(variant)
    path = str(tmp_path / "official.pdparams")
    paddle.save(official.state_dict(), path)
    plugin = build_plugin(variant, pretrained=path)
    x = paddle.randn([2, 3, 256, 512])

    official.eval(), plugin.eval()
    assert _max_abs_diff(official(x)[0], plugin(x)[0]) <= PARITY_ATOL

    official.train(), plugin.train()
    official_logits, plugin_logits = official(x), plugin(x)
    assert len(official_logits) == len(plugin_logits) == 3
    for a, b in zip(official_logits, plugin_logits):
        assert _max_abs_diff(a, b) <= PARITY_ATOL


@pytest.mark.parametrize("variant", ["T", "B"])
def test_every_official_tensor_is_mapped(variant):
    official_state = build_official(variant).state_dict()
    converted = convert_official(official_state)
    assert set(converted) == set(build_plugin(variant).state_dict())
    constants = [key for key in official_state if key.endswith("._scale")]
    assert len(converted) == len(official_state) - len(constants) and len(constants) == 3


def test_fine_tuning_loads_all_but_the_classifiers(official_t_checkpoint, capsys):
    path, official = official_t_checkpoint
    fresh = build_plugin("T", num_classes=2)
    classifiers = {k: v.numpy() for k, v in fresh.state_dict().items() if ".classifier." in k}
    paddle.seed(123)
    model = build_plugin("T", num_classes=2, pretrained=path)
    loaded = convert_official({k: v.numpy() for k, v in official.state_dict().items()})
    for key, value in model.state_dict().items():
        if ".classifier." in key:
            assert list(value.shape) == list(classifiers[key].shape)
        else:
            np.testing.assert_array_equal(value.numpy(), loaded[key])
    log = capsys.readouterr().out
    assert "skipped the classifiers" in log and "heads.0.classifier.weight [2, 32, 1, 1]" in log


def test_foreign_keys_are_listed_and_nothing_is_loaded(official_t_checkpoint, tmp_path):
    path, official = official_t_checkpoint
    state = dict(official.state_dict())
    state["aux_head.conv.weight"] = paddle.zeros([1])
    bad = str(tmp_path / "foreign.pdparams")
    paddle.save(state, bad)
    with pytest.raises(CheckpointError, match=r"foreign.pdparams.*aux_head\.conv\.weight"):
        build_plugin("T", pretrained=bad)


def test_missing_and_misshaped_keys_are_listed(official_t_checkpoint, tmp_path):
    path, official = official_t_checkpoint
    state = {k: v for k, v in official.state_dict().items() if not k.startswith("seg_heads.1.conv.")}
    state["ppseg_head.cm.conv_out._conv.weight"] = paddle.zeros([3, 3, 3, 3])
    bad = str(tmp_path / "partial.pdparams")
    paddle.save(state, bad)
    model = build_plugin("T")
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as error:
        load_pretrained(model, bad)
    message = str(error.value)
    assert "partial.pdparams" in message and "missing: heads.1.conv._batch_norm" in message
    assert "shape mismatch: context.conv_out._conv.weight [3, 3, 3, 3] vs [128, 128, 3, 3]" in message
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])


def test_checkpoint_of_another_backbone_is_rejected(tmp_path):
    path = str(tmp_path / "b.pdparams")
    paddle.save(build_official("B").state_dict(), path)
    with pytest.raises(CheckpointError, match="unexpected: backbone"):
        build_plugin("T", pretrained=path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", None])
def test_unreadable_files_are_named(official_t_checkpoint, tmp_path, content):
    bad = tmp_path / "broken.pdparams"
    if content is None:  # truncated copy of a real checkpoint
        with open(official_t_checkpoint[0], "rb") as source:
            content = source.read()[:5000]
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match="broken.pdparams is not a readable Paddle checkpoint"):
        read_checkpoint(str(bad))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pdparams"):
        build_plugin("T", pretrained=str(tmp_path / "nowhere.pdparams"))


def test_modified_constant_is_refused(official_t_checkpoint):
    state = {k: v.numpy() for k, v in official_t_checkpoint[1].state_dict().items()}
    state["ppseg_head.arm_list.1._scale"] = np.array([2.0], dtype="float32")
    with pytest.raises(CheckpointError, match=r"arm_list\.1\._scale"):
        convert_official(state)


def _silent_server():
    """A TCP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    return server


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_unreachable_url_fails_fast_naming_it(kind, monkeypatch, tmp_path):
    monkeypatch.setattr("paddleseg_liteseg.weights.download.TIMEOUT_SECONDS", 2.0)
    monkeypatch.setenv("PADDLESEG_LITESEG_CACHE", str(tmp_path))
    if kind == "silent":
        server = _silent_server()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/model.pdparams"
    else:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/model.pdparams"
        probe.close()
    start = time.monotonic()
    with pytest.raises(DownloadError, match=rf"{url}.*local path"):
        build_plugin("T", pretrained=url)
    assert time.monotonic() - start < 5
    if kind == "silent":
        server.close()


def test_url_is_downloaded_once_and_loaded(official_t_checkpoint, tmp_path, monkeypatch):
    import http.server
    import os
    directory = os.path.dirname(official_t_checkpoint[0])
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=directory, **k)  # noqa
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("PADDLESEG_LITESEG_CACHE", str(tmp_path / "cache"))
    url = f"http://127.0.0.1:{server.server_address[1]}/{os.path.basename(official_t_checkpoint[0])}"
    try:
        build_plugin("T", pretrained=url)
        assert len(os.listdir(tmp_path / "cache")) == 1
    finally:
        server.shutdown()


def test_convert_writes_plugin_layout(official_t_checkpoint, tmp_path):
    path, official = official_t_checkpoint
    target = str(tmp_path / "out" / "liteseg_t.pdparams")
    assert convert_checkpoint(path, target) == 247
    converted = paddle.load(target)
    assert set(converted) == set(build_plugin("T").state_dict())
    model = build_plugin("T", pretrained=target)
    x = paddle.randn([1, 3, 64, 64])
    model.eval(), official.eval()
    assert _max_abs_diff(model(x)[0], official(x)[0]) <= PARITY_ATOL


def _outputs(model, x):
    """Eval logits and the three train logits."""
    model.eval()
    outputs = list(model(x))
    model.train()
    return outputs + list(model(x))


@pytest.mark.parametrize("variant", ["T", "B"])
def test_paddleseg_layout_runs_in_paddleseg_pplitseg(variant, tmp_path):
    paddle.seed(1)
    plugin = build_plugin(variant)
    randomize_batch_norm_statistics(plugin, seed=1)
    source = str(tmp_path / "liteseg.pdparams")
    paddle.save(plugin.state_dict(), source)
    target = str(tmp_path / "paddleseg.pdparams")
    assert convert_checkpoint(source, target, layout="paddleseg") == len(plugin.state_dict()) + 3  # + _scale
    official = build_official(variant, seed=7)
    assert set(paddle.load(target)) == set(official.state_dict())
    utils.load_entire_model(official, target)  # as PaddleSeg's tools load --model_path
    x = paddle.randn([1, 3, 128, 256])
    for a, b in zip(_outputs(official, x), _outputs(plugin, x)):
        assert _max_abs_diff(a, b) <= PARITY_ATOL


def test_official_layout_round_trips_exactly(official_t_checkpoint, tmp_path):
    path, official = official_t_checkpoint
    liteseg, back = str(tmp_path / "liteseg.pdparams"), str(tmp_path / "paddleseg.pdparams")
    convert_checkpoint(path, liteseg)
    convert_checkpoint(liteseg, back, layout="paddleseg")
    original, returned = paddle.load(path), paddle.load(back)
    assert set(returned) == set(original)
    for key, value in original.items():
        np.testing.assert_array_equal(returned[key].numpy(), value.numpy())


@pytest.mark.parametrize("attention", ["channel", "none"])
def test_other_attentions_have_no_paddleseg_layout(attention, tmp_path):
    from paddleseg.models.backbones import STDC1

    from paddleseg_liteseg import LiteSeg
    model = LiteSeg(19, STDC1(), decoder=dict(out_channels=[32, 64, 128], attention=attention))
    source = str(tmp_path / f"{attention}.pdparams")
    paddle.save(model.state_dict(), source)
    with pytest.raises(CheckpointError, match=r"decoder\.fusions\.0 does not use UAFM's spatial attention"):
        convert_checkpoint(source, str(tmp_path / "out.pdparams"), layout="paddleseg")
    assert not (tmp_path / "out.pdparams").exists()


@pytest.mark.parametrize("layout", ["liteseg", "paddleseg"])
def test_safetensors_give_identical_outputs(official_t_checkpoint, tmp_path, layout):
    path, official = official_t_checkpoint
    target = tmp_path / "best" / "model.safetensors"
    convert_checkpoint(path, str(target), layout=layout)
    x = paddle.randn([1, 3, 64, 128])
    expected = _outputs(build_plugin("T", pretrained=path), x)
    for weights in (str(target), str(target.parent)):  # the file, or a directory holding it
        for a, b in zip(_outputs(build_plugin("T", pretrained=weights), x), expected):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    if layout == "paddleseg":
        model = build_official("T", seed=5)
        utils.load_entire_model(model, str(target))
        for a, b in zip(_outputs(model, x), _outputs(official, x)):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
