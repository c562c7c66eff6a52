"""A training job killed with SIGKILL resumes from its newest complete checkpoint and finishes."""
import os
import signal
import subprocess
import sys
import time

import paddle
import pytest

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from toy_training import TOY_CONFIG, read_scalars, toy_opts

ITERATIONS = 10


@pytest.mark.slow
def test_sigkill_then_auto_resume_finishes(tmp_path, capsys):
    root, save_dir = tmp_path / "toy", tmp_path / "out"
    make_toy_dataset(str(root), num_train=8, num_val=2, size=(128, 64))
    flags = ["--config", TOY_CONFIG, "--save_dir", str(save_dir), "--device", "cpu", "--iters", str(ITERATIONS),
             "--save_interval", "2", "--log_iters", "1", "--use_vdl", "--opts", *toy_opts(root, batch_size=2)]
    job = subprocess.Popen([sys.executable, "-m", "paddleseg_liteseg", "train", *flags],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (save_dir / "iter_4" / "model.pdopt").is_file():
            assert job.poll() is None, "training ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.2)
    finally:
        job.send_signal(signal.SIGKILL)
        job.wait()
    killed_at = max(int(name[5:]) for name in os.listdir(save_dir) if name.startswith("iter_"))
    assert killed_at < ITERATIONS
    # What a kill during a save leaves behind: a newer checkpoint without its optimizer state.
    torn = save_dir / f"iter_{killed_at + 2}"
    torn.mkdir(exist_ok=True)
    (torn / "model.pdparams").write_bytes(b"\x80\x04 truncated")

    assert main(["train", "--resume_model", "auto", *flags]) == 0
    log = capsys.readouterr().out
    assert f"Resume model from {save_dir / f'iter_{killed_at}'}" in log
    assert paddle.load(str(save_dir / f"iter_{ITERATIONS}" / "model.pdparams"))
    logs = sorted(name for name in os.listdir(save_dir) if name.startswith("vdlrecords."))
    resumed_steps = sorted(read_scalars(str(save_dir), "Train/lr", log=logs[-1]))
    assert resumed_steps[0] == killed_at + 1 and resumed_steps[-1] == ITERATIONS
