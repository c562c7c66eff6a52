"""The test cache: an entry is built once per recipe, never left half-built, and a failed toy
training shows its log."""
import os

import pytest

import recipe_cache
from recipe_cache import cached_directory, files_digest
from toy_training import TOY_TRAINED, train_toy


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(recipe_cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _builder(log):
    def build(directory):
        log.append(directory)
        (directory / "result.txt").write_text(f"build {len(log)}")
    return build


def test_an_entry_is_built_once_per_recipe(cache, tmp_path):
    builds = []
    first = cached_directory("thing", {"iters": 1}, _builder(builds), tmp_path)
    again = cached_directory("thing", {"iters": 1}, _builder(builds), tmp_path)
    other = cached_directory("thing", {"iters": 2}, _builder(builds), tmp_path)
    assert first == again != other and len(builds) == 2
    assert (first / "result.txt").read_text() == "build 1" and (other / "result.txt").read_text() == "build 2"
    assert first.parent == cache and '"iters": 1' in (first / "recipe.json").read_text()


def test_a_failed_build_leaves_nothing_behind(cache, tmp_path):
    def failing(directory):
        (directory / "half.txt").write_text("half")
        raise RuntimeError("build failed")

    with pytest.raises(RuntimeError, match="build failed"):
        cached_directory("thing", {"iters": 1}, failing, tmp_path)
    assert os.listdir(cache) == []
    builds = []
    cached_directory("thing", {"iters": 1}, _builder(builds), tmp_path)
    assert len(builds) == 1


def test_an_empty_cache_variable_builds_every_time(tmp_path, monkeypatch):
    monkeypatch.setenv(recipe_cache.CACHE_ENV, "")
    builds = []
    assert cached_directory("thing", {}, _builder(builds), tmp_path) == tmp_path / "thing"
    assert len(builds) == 1


def test_the_code_digest_follows_the_files(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "uafm.py").write_text("a = 1\n")
    before = files_digest(tmp_path, ["models/*.py"])
    (tmp_path / "models" / "notes.txt").write_text("not code")
    assert files_digest(tmp_path, ["models/*.py"]) == before
    (tmp_path / "models" / "uafm.py").write_text("a = 2\n")
    assert files_digest(tmp_path, ["models/*.py"]) != before


def test_a_failed_toy_training_shows_its_log(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(pytest.fail.Exception) as failure:
        train_toy(tmp_path / "data", tmp_path, dict(TOY_TRAINED, num_train=2, num_val=1, seed="zero"))
    message = str(failure.value)
    assert message.startswith("training the toy model failed (exit status 2); the end of its log (")
    assert "argument --seed: invalid int value: 'zero'" in message
