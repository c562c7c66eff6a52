"""Data-parallel training over two machines, as two launcher "nodes" on 127.0.0.1: each runs
``python -m paddle.distributed.launch --master 127.0.0.1:PORT --nnodes 2 --rank i`` with one CPU
process (gloo), the recipe of docs/training.md. Both share one --save_dir, as machines share a
network filesystem.

The trainers run ``paddleseg train`` (``paddleseg_liteseg.cli.main``) through a small wrapper that
records, per rank, the checkpoint training resumes from, every file ``paddle.save`` writes and, once
training returns, the model's parameters: PaddleSeg logs on rank 0 only, and this shows what each
rank did.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import paddle
import psutil
import pytest

from paddleseg_liteseg.datasets.toy import make_toy_dataset
from toy_training import TOY_CONFIG, toy_opts

WRAPPER = '''\
import os, sys
import numpy, paddle, paddleseg.core
from paddleseg_liteseg.cli import main

record_dir, rank = sys.argv[1], os.environ["PADDLE_TRAINER_ID"]
save, train = paddle.save, paddleseg.core.train


def recorded_save(obj, path, *args, **kwargs):
    with open(os.path.join(record_dir, f"saves.{rank}"), "a") as record:
        record.write(f"{path}\\n")
    return save(obj, path, *args, **kwargs)


def train_then_keep_parameters(model, *args, **kwargs):
    with open(os.path.join(record_dir, f"resumed.{rank}"), "w") as record:
        record.write(str(kwargs["resume_model"]))
    train(model, *args, **kwargs)
    for kind, trainable in (("parameters", True), ("statistics", False)):  # BatchNorm's mean and variance
        numpy.savez(os.path.join(record_dir, f"{kind}.{rank}.npz"),
                    **{name: parameter.numpy() for name, parameter in model.named_parameters()
                       if parameter.stop_gradient != trainable})


paddle.save, paddleseg.core.train = recorded_save, train_then_keep_parameters
sys.exit(main(sys.argv[2:]))
'''
START_TIMEOUT_S = 300   # a launcher pair's whole run, on a busy 2-core machine
STOP_TIMEOUT_S = 120    # how long the surviving node may take to notice its peer is gone


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Nodes:
    """Two launchers (node ranks 0 and 1), each in its own session, so that one can be killed whole."""

    def __init__(self, tmp_path, name, train_flags):
        self.directory = tmp_path / name
        self.directory.mkdir()
        wrapper = tmp_path / "train_and_record.py"
        wrapper.write_text(WRAPPER)
        master = f"127.0.0.1:{free_port()}"
        self.launchers = [
            subprocess.Popen(
                [sys.executable, "-m", "paddle.distributed.launch", "--master", master, "--nnodes", "2",
                 "--rank", str(rank), "--nproc_per_node", "1", "--host", "127.0.0.1",
                 "--log_dir", str(self.directory / f"log{rank}"),
                 str(wrapper), str(self.directory), "train", *train_flags],
                cwd=tmp_path, stdout=open(self.directory / f"launch{rank}.txt", "w"), stderr=subprocess.STDOUT,
                start_new_session=True)
            for rank in (0, 1)]

    def kill(self, rank):
        """SIGKILL node ``rank``: its launcher's process group and every process it started (the
        launcher puts its trainers in sessions of their own), as when a machine goes down."""
        launcher = self.launchers[rank]
        try:
            processes = [psutil.Process(launcher.pid), *psutil.Process(launcher.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            processes = []
        for process in processes:
            try:
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        launcher.wait()

    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        for launcher in self.launchers:
            launcher.wait(timeout=max(1, deadline - time.monotonic()))
        return [launcher.returncode for launcher in self.launchers]

    def log(self, rank):
        """The trainer's log on node ``rank`` (its one process is workerlog.0 there)."""
        return (self.directory / f"log{rank}" / "workerlog.0").read_text()

    def output(self):
        return "\n".join(f"--- node {rank}: launcher ---\n{(self.directory / f'launch{rank}.txt').read_text()[-2000:]}"
                         f"\n--- node {rank}: trainer ---\n{self._tail(rank)}" for rank in (0, 1))

    def _tail(self, rank):
        try:
            return self.log(rank)[-3000:]
        except FileNotFoundError:
            return "(no log)"

    def parameters(self, rank, kind="parameters"):
        """The trainable parameters rank ``rank`` ended with (kind="statistics": BatchNorm's)."""
        return dict(np.load(self.directory / f"{kind}.{rank}.npz"))

    def resumed(self, rank):
        return (self.directory / f"resumed.{rank}").read_text()

    def saved(self, rank):
        path = self.directory / f"saves.{rank}"
        return path.read_text().split() if path.exists() else []


@pytest.fixture
def start_nodes(tmp_path):
    started = []

    def start(name, train_flags):
        started.append(Nodes(tmp_path, name, train_flags))
        return started[-1]

    yield start
    for nodes in started:
        for rank in (0, 1):
            nodes.kill(rank)


def train_flags(tmp_path, save_dir, iters, save_interval, *extra):
    return ["--config", TOY_CONFIG, "--save_dir", str(save_dir), "--iters", str(iters),
            "--save_interval", str(save_interval), "--log_iters", "1", "--device", "cpu", *extra,
            "--opts", *toy_opts(tmp_path / "toy", batch_size=2)]


def complete_checkpoints(save_dir):
    """The N of every iter_N in ``save_dir`` holding both checkpoint files, ascending."""
    if not save_dir.is_dir():
        return []
    return sorted(int(name[5:]) for name in os.listdir(save_dir) if re.fullmatch(r"iter_\d+", name)
                  and all((save_dir / name / file).is_file() for file in ("model.pdparams", "model.pdopt")))


def assert_equal_parameters(first, second):
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


@pytest.mark.slow
def test_two_nodes_train_alike_and_resume_after_one_is_killed(tmp_path, start_nodes):
    make_toy_dataset(str(tmp_path / "toy"), num_train=8, num_val=2, size=(128, 64))

    # A whole run: both ranks end with the same weights, and rank 0 alone writes the checkpoint.
    save_dir = tmp_path / "out"
    nodes = start_nodes("run", train_flags(tmp_path, save_dir, iters=4, save_interval=4))
    assert nodes.wait(START_TIMEOUT_S) == [0, 0], nodes.output()
    assert sorted(os.listdir(save_dir)) == ["iter_4"]
    assert nodes.saved(1) == []
    assert sorted(os.path.basename(path) for path in nodes.saved(0)) == ["model.pdopt.partial",
                                                                          "model.pdparams.partial"]
    # 8 images, 2 per process and step: an epoch is 2 steps with two ranks (4 with one).
    assert "epoch: 2, iter: 3/4" in nodes.log(0)
    assert_equal_parameters(nodes.parameters(0), nodes.parameters(1))
    # BatchNorm statistics are each process's own on CPU (no SyncBatchNorm); the checkpoint holds rank 0's.
    statistics = nodes.parameters(0, "statistics")
    assert statistics and not np.array_equal(*(nodes.parameters(rank, "statistics")["backbone.features.0.bn._mean"]
                                               for rank in (0, 1)))
    checkpoint = {name: value.numpy() for name, value in
                  paddle.load(str(save_dir / "iter_4" / "model.pdparams")).items()}
    assert_equal_parameters({**nodes.parameters(0), **statistics}, checkpoint)

    # Node 1 dies mid-run: node 0 stops too, and the checkpoints written before stay usable.
    save_dir, iters = tmp_path / "out_resumed", 12
    nodes = start_nodes("killed", train_flags(tmp_path, save_dir, iters=iters, save_interval=2))
    deadline = time.monotonic() + START_TIMEOUT_S
    while 4 not in complete_checkpoints(save_dir):
        assert all(launcher.poll() is None for launcher in nodes.launchers), nodes.output()
        assert time.monotonic() < deadline, "no checkpoint iter_4 in time\n" + nodes.output()
        time.sleep(0.2)
    nodes.kill(1)
    killed_at = time.monotonic()
    try:
        node0_status = nodes.launchers[0].wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"node 0 still ran {STOP_TIMEOUT_S} s after node 1 was killed\n" + nodes.output())
    print(f"node 0 stopped {time.monotonic() - killed_at:.1f} s after node 1 was killed (exit {node0_status})")
    assert node0_status != 0
    resumed_from = complete_checkpoints(save_dir)[-1]
    assert resumed_from < iters

    # Both nodes restarted with --resume_model auto continue from the newest complete checkpoint.
    nodes = start_nodes("restarted", train_flags(tmp_path, save_dir, iters, 2, "--resume_model", "auto"))
    assert nodes.wait(START_TIMEOUT_S) == [0, 0], nodes.output()
    assert [nodes.resumed(rank) for rank in (0, 1)] == [str(save_dir / f"iter_{resumed_from}")] * 2
    assert f"Resume model from {save_dir / f'iter_{resumed_from}'}" in nodes.log(0), nodes.output()
    steps = [int(step) for step in re.findall(rf"iter: (\d+)/{iters}", nodes.log(0))]
    assert steps[0] == resumed_from + 1 and steps[-1] == iters
    assert complete_checkpoints(save_dir)[-1] == iters
    assert nodes.saved(1) == []
    assert_equal_parameters(nodes.parameters(0), nodes.parameters(1))
