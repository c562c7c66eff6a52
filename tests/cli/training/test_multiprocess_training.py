"""Data-parallel training over two CPU processes through Paddle's own launcher (gloo)."""
import os
import subprocess
import sys

import pytest

from paddleseg_liteseg.datasets.toy import make_toy_dataset
from toy_training import TOY_CONFIG, toy_opts


@pytest.mark.slow
def test_two_processes_split_the_data_and_write_one_checkpoint(tmp_path):
    make_toy_dataset(str(tmp_path / "toy"), num_train=8, num_val=2, size=(128, 64))
    command = os.path.join(os.path.dirname(sys.executable), "paddleseg")
    result = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
         "--log_dir", str(tmp_path / "log"), command, "train", "--config", TOY_CONFIG,
         "--save_dir", str(tmp_path / "out"), "--iters", "4", "--save_interval", "4", "--log_iters", "1",
         "--device", "cpu", "--opts", *toy_opts(tmp_path / "toy", batch_size=2)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / "out")) == ["iter_4"]
    assert (tmp_path / "out" / "iter_4" / "model.pdparams").is_file()
    logs = [(tmp_path / "log" / f"workerlog.{rank}").read_text() for rank in (0, 1)]
    # 8 images, 2 per process and step: each epoch is 2 steps with two processes (4 with one).
    assert "epoch: 2, iter: 3/4" in logs[0]
    assert "Traceback" not in logs[1]
