"""Shared fixtures."""
import subprocess
import sys
from types import SimpleNamespace

import paddle
import pytest

import paddleseg_liteseg  # noqa: F401  (registers the plugin, applies the Paddle 3 fixes)
from paddleseg_liteseg.datasets.toy import make_toy_dataset
from reference_models import build_official
from toy_training import toy_config, write_config

TOY_TRAINED_ITERS = 200


@pytest.fixture(scope="session")
def official_t_checkpoint(tmp_path_factory):
    """An official-layout PP-LiteSeg-T checkpoint (19 classes) on disk, and the model it came from."""
    model = build_official("T")
    path = str(tmp_path_factory.mktemp("official") / "pp_liteseg_t.pdparams")
    paddle.save(model.state_dict(), path)
    return path, model


@pytest.fixture(scope="session")
def toy_trained(tmp_path_factory):
    """PP-LiteSeg-T trained by ``paddleseg train`` with the shipped toy config, for the learning test
    to score and the deployment tests to compare runtimes on (a random model's argmax is chaotic:
    tiny float differences flip many pixels). SimpleNamespace(root, config, checkpoint)."""
    root = tmp_path_factory.mktemp("toy_trained")
    make_toy_dataset(str(root), num_train=80, num_val=20, seed=1)
    config = write_config(root / "toy.yml", toy_config(root))
    save_dir = root / "train"
    subprocess.run([sys.executable, "-m", "paddleseg_liteseg", "train", "--config", config, "--device", "cpu",
                    "--save_dir", str(save_dir), "--iters", str(TOY_TRAINED_ITERS), "--seed", "0",
                    "--save_interval", str(TOY_TRAINED_ITERS), "--log_iters", "50"],
                   check=True, capture_output=True)
    return SimpleNamespace(root=root, config=config,
                           checkpoint=str(save_dir / f"iter_{TOY_TRAINED_ITERS}" / "model.pdparams"))
