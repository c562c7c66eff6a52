"""``paddleseg infer --ray``: on a Ray started for the job and on a two-node Ray cluster on this
machine's loopback, the label PNGs ``paddleseg infer`` writes, a manifest with one line per image,
a killed job run again doing only the rest, and a corrupt image recorded while the rest complete."""
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paddleseg_liteseg.batch.manifest import read_manifest
from paddleseg_liteseg.cli import main

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the [ray] extra")]
CAMVID_SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "camvid_sample"


@pytest.fixture(scope="module")
def images(toy_model):
    """The CamVid sample's photos where it lies beside the clone, else the toy val images."""
    return CAMVID_SAMPLE / "images" if CAMVID_SAMPLE.is_dir() else toy_model.root / "leftImg8bit" / "val"


@pytest.fixture(scope="module")
def infer_labels(exported, images, tmp_path_factory):
    """{output name: labels} that plain ``paddleseg infer`` writes."""
    save_dir = tmp_path_factory.mktemp("plain_infer")
    assert main(["infer", "--model_dir", exported, "--image_path", str(images), "--save_dir", str(save_dir),
                 "--backend", "onnxruntime", "--precision", "fp32"]) == 0
    return label_pngs(save_dir)


def label_pngs(save_dir):
    root = Path(save_dir) / "pseudo_color_prediction"
    return {str(path.relative_to(root)): np.asarray(Image.open(path)) for path in sorted(root.rglob("*.png"))}


def ray_infer(model_dir, images, save_dir, *flags):
    return main(["infer", "--model_dir", model_dir, "--image_path", str(images), "--save_dir", str(save_dir),
                 "--backend", "onnxruntime", "--precision", "fp32", "--ray", "--batch_size", "4", *flags])


def done_lines(save_dir):
    lines = [json.loads(line) for line in (Path(save_dir) / "manifest.jsonl").read_text().splitlines()]
    return [line for line in lines if line["status"] == "done"]


def test_a_job_on_a_local_ray_writes_infers_labels_and_a_manifest(exported, images, infer_labels, tmp_path):
    assert ray_infer(exported, images, tmp_path) == 0
    assert label_pngs(tmp_path).keys() == infer_labels.keys()
    assert all((label_pngs(tmp_path)[name] == labels).all() for name, labels in infer_labels.items())
    records = done_lines(tmp_path)
    assert len(records) == len(infer_labels) == len({record["image"] for record in records})
    for record in records:
        assert sum(record["class_shares"].values()) == pytest.approx(1, abs=1e-4)
        assert (record["height"], record["width"]) == infer_labels[record["output"].split("/", 1)[1]].shape
    assert (tmp_path / "added_prediction").is_dir()


def test_a_killed_job_run_again_does_the_rest_once(exported, images, infer_labels, tmp_path):
    command = [sys.executable, "-m", "paddleseg_liteseg", "infer", "--model_dir", exported, "--image_path",
               str(images), "--save_dir", str(tmp_path), "--backend", "onnxruntime", "--precision", "fp32", "--ray",
               "--batch_size", "2", "--ray_actors", "1"]
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    manifest = tmp_path / "manifest.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and (not manifest.exists() or len(manifest.read_text().splitlines()) < 3):
        time.sleep(0.2)
    os.killpg(job.pid, signal.SIGKILL)  # the driver and the Ray it started
    job.wait()
    first = len(done_lines(tmp_path))
    assert 3 <= first < len(infer_labels), "the job was killed before or after it had done part of the images"
    assert ray_infer(exported, images, tmp_path) == 0
    records = done_lines(tmp_path)
    assert sorted(record["image"] for record in records) == sorted({record["image"] for record in records})
    assert len(records) == len(infer_labels)
    assert all((label_pngs(tmp_path)[name] == labels).all() for name, labels in infer_labels.items())
    assert not list(tmp_path.rglob("*.partial*"))


def test_a_corrupt_image_is_recorded_and_the_rest_complete(exported, images, infer_labels, tmp_path, capsys):
    folder = tmp_path / "images"
    shutil.copytree(images, folder)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert ray_infer(exported, folder, tmp_path / "out") == 1
    records = read_manifest(tmp_path / "out")
    broken = records[str(folder / "broken.png")]
    assert broken.status == "failed" and "not an image OpenCV can decode" in broken.error
    assert sum(record.status == "done" for record in records.values()) == len(infer_labels)
    assert "1 failed" in capsys.readouterr().out


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def two_node_cluster(monkeypatch):
    """A Ray head and a second node on 127.0.0.1, one CPU each, each with its own temp dir (short:
    Ray's socket paths must fit in 107 characters), token authentication off on loopback."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the nodes and this process's driver alike
    ray = str(Path(sys.executable).with_name("ray"))
    port = free_port()
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
    temp_dirs = [tempfile.mkdtemp(prefix="ray", dir="/tmp") for _ in range(2)]
    try:
        subprocess.run([ray, "start", "--head", "--port", str(port), "--include-dashboard", "false",
                        "--temp-dir", temp_dirs[0], *common], check=True, capture_output=True)
        subprocess.run([ray, "start", "--address", f"127.0.0.1:{port}", "--temp-dir", temp_dirs[1], *common],
                       check=True, capture_output=True)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True)
        for folder in temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)


def test_a_two_node_cluster_shares_the_job(exported, images, infer_labels, two_node_cluster, tmp_path, capsys):
    assert ray_infer(exported, images, tmp_path / "out", "--ray_address", two_node_cluster, "--ray_actors", "2") == 0
    assert "2 actors on 2 nodes" in capsys.readouterr().out
    records = done_lines(tmp_path / "out")
    assert len(records) == len(infer_labels)
    assert len({record["node"] for record in records}) == 2
    assert all((label_pngs(tmp_path / "out")[name] == labels).all() for name, labels in infer_labels.items())


@pytest.mark.filterwarnings("ignore")
def test_a_missing_ray_is_named_with_its_extra(exported, images, tmp_path, monkeypatch, capsys):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None if name == "ray" else find_spec(name, *args))
    assert ray_infer(exported, images, tmp_path) != 0
    assert "pip install 'paddleseg-liteseg[ray]'" in capsys.readouterr().err
