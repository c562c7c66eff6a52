"""Shared fixtures."""
import signal
from types import SimpleNamespace

import paddle
import pytest

import paddleseg_liteseg  # noqa: F401  (registers the plugin, applies the Paddle 3 fixes)
from recipe_cache import cached_directory
from reference_models import build_official
from toy_training import toy_config, toy_trained_recipe, train_toy, write_config


@pytest.fixture(autouse=True)
def default_sigchld_handling():
    """Each test leaves SIGCHLD as a fresh process has it. Paddle's multi-process DataLoader installs
    a process-wide SIGCHLD handler that inspects its workers whenever any child process exits; left
    in place by one test, it ran in every later test that started a process, and the suite's
    process died in one of them (SIGSEGV)."""
    yield
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)


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
    tiny float differences flip many pixels); trained once per recipe and cached across runs
    (tests/recipe_cache.py). SimpleNamespace(root, config, checkpoint): ``root`` holds the dataset
    and is shared, so read-only."""
    scratch = tmp_path_factory.mktemp("toy_trained")
    root = cached_directory("toy_trained", toy_trained_recipe(), lambda directory: train_toy(directory, scratch),
                            scratch)
    return SimpleNamespace(root=root, config=write_config(scratch / "toy.yml", toy_config(root)),
                           checkpoint=str(root / "model.pdparams"))
