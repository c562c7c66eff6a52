"""``paddleseg infer --ray``, each job in its own process as a user runs it: on a Ray started for
the job, the label PNGs ``paddleseg infer`` writes, a manifest with one line per image and a
corrupt image recorded while the rest complete; a driver killed mid-job, then run again, doing
only the rest; a two-node Ray cluster on this machine's loopback sharing a job."""
import contextlib
import importlib.util
import json
import shutil
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
KILLED_JOB_COPIES = 4
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


def ray_command(model_dir, images, save_dir, *flags):
    return [sys.executable, "-m", "paddleseg_liteseg", "infer", "--model_dir", str(model_dir), "--image_path",
            str(images), "--save_dir", str(save_dir), "--backend", "onnxruntime", "--precision", "fp32", "--ray",
            "--batch_size", "4", *map(str, flags)]


def ray_infer(model_dir, images, save_dir, *flags):
    """``paddleseg infer --ray`` in its own process, as a user runs it (a Ray driver per process):
    (exit code, what it printed)."""
    result = subprocess.run(ray_command(model_dir, images, save_dir, *flags), capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


def done_lines(save_dir):
    lines = [json.loads(line) for line in (Path(save_dir) / "manifest.jsonl").read_text().splitlines()]
    return [line for line in lines if line["status"] == "done"]


def test_a_job_on_a_local_ray_writes_infers_labels_and_a_manifest(exported, images, infer_labels, tmp_path):
    """On a Ray started for the job: infer's labels, a manifest line per image, and a corrupt image
    among the others recorded as failed while the rest complete."""
    folder = tmp_path / "images"
    shutil.copytree(images, folder)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, output = ray_infer(exported, folder, tmp_path / "out")
    assert code == 1 and "1 failed" in output, output
    assert label_pngs(tmp_path / "out").keys() == infer_labels.keys()
    assert all((label_pngs(tmp_path / "out")[name] == labels).all() for name, labels in infer_labels.items())
    records = read_manifest(tmp_path / "out")
    broken = records.pop(str(folder / "broken.png"))
    assert broken.status == "failed" and "not an image OpenCV can decode" in broken.error
    assert len(records) == len(infer_labels) and all(record.status == "done" for record in records.values())
    for record in records.values():
        assert sum(record.class_shares.values()) == pytest.approx(1, abs=1e-4)
        assert (record.height, record.width) == infer_labels[record.output.split("/", 1)[1]].shape
    assert (tmp_path / "out" / "added_prediction").is_dir()


def test_a_killed_job_run_again_does_the_rest_once(exported, images, infer_labels, monkeypatch, tmp_path):
    """The driver is killed mid-job (a cluster's, which outlives it), then the job is run again."""
    folder = tmp_path / "images"  # enough images that the job is still running when it is killed
    for copy in range(KILLED_JOB_COPIES):
        shutil.copytree(images, folder / f"copy{copy}")
    save_dir = tmp_path / "out"
    with ray_cluster(monkeypatch, nodes=1, cpus=2) as address:
        command = ray_command(exported, folder, save_dir, "--ray_address", address, "--ray_actors", 1)
        job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        manifest = save_dir / "manifest.jsonl"
        deadline = time.time() + 240
        while time.time() < deadline and (not manifest.exists() or len(manifest.read_text().splitlines()) < 3):
            time.sleep(0.1)
        job.kill()
        job.wait()
        total = KILLED_JOB_COPIES * len(infer_labels)
        first = len(done_lines(save_dir))
        assert 3 <= first < total, "the job was killed before or after it had done part of the images"
        code, output = ray_infer(exported, folder, save_dir, "--ray_address", address)
        assert code == 0, output
    records = done_lines(save_dir)
    assert len(records) == len({record["image"] for record in records}) == total
    written = label_pngs(save_dir)
    assert len(written) == total
    assert all((labels == infer_labels[name.split("/", 1)[1]]).all() for name, labels in written.items())
    assert not list(save_dir.rglob("*.partial"))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def ray_cluster(monkeypatch, nodes, cpus=1):
    """A Ray cluster of ``nodes`` nodes on 127.0.0.1 (a head, then the others), ``cpus`` CPUs each,
    each with its own temp dir (short: Ray's socket paths must fit in 107 characters), token
    authentication off on loopback; its address. Stopped, every Ray process with it, at the end."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the nodes and the drivers alike
    ray = str(Path(sys.executable).with_name("ray"))
    port = free_port()
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", str(cpus), "--disable-usage-stats"]
    temp_dirs = [tempfile.mkdtemp(prefix="ray", dir="/tmp") for _ in range(nodes)]
    try:
        subprocess.run([ray, "start", "--head", "--port", str(port), "--include-dashboard", "false",
                        "--temp-dir", temp_dirs[0], *common], check=True, capture_output=True)
        for temp_dir in temp_dirs[1:]:
            subprocess.run([ray, "start", "--address", f"127.0.0.1:{port}", "--temp-dir", temp_dir, *common],
                           check=True, capture_output=True)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True)
        for folder in temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)


def test_a_two_node_cluster_shares_the_job(exported, images, infer_labels, monkeypatch, tmp_path):
    with ray_cluster(monkeypatch, nodes=2) as address:
        code, output = ray_infer(exported, images, tmp_path / "out", "--ray_address", address, "--ray_actors", 2)
    assert code == 0, output
    assert "2 actors on 2 nodes" in output
    records = done_lines(tmp_path / "out")
    assert len(records) == len(infer_labels)
    assert len({record["node"] for record in records}) == 2
    assert all((label_pngs(tmp_path / "out")[name] == labels).all() for name, labels in infer_labels.items())


@pytest.mark.filterwarnings("ignore")
def test_a_missing_ray_is_named_with_its_extra(exported, images, tmp_path, monkeypatch, capsys):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None if name == "ray" else find_spec(name, *args))
    assert main(ray_command(exported, images, tmp_path)[3:]) != 0
    assert "pip install 'paddleseg-liteseg[ray]'" in capsys.readouterr().err
