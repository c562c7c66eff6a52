import os

import paddle
import pytest

from paddleseg_liteseg.weights.training_checkpoints import latest_checkpoint, resolve_resume
from paddleseg_liteseg.compat import atomic_saves
from paddleseg_liteseg.errors import UserError


def _checkpoint(save_dir, iteration, files=("model.pdparams", "model.pdopt")):
    directory = save_dir / f"iter_{iteration}"
    directory.mkdir(parents=True)
    for name in files:
        paddle.save({"w": paddle.full([1], float(iteration))}, str(directory / name))
    return str(directory)


def test_a_save_interrupted_before_its_rename_leaves_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / "model.pdparams")
    paddle.save({"w": paddle.ones([1])}, path)

    def killed(*args):
        raise KeyboardInterrupt  # the process dies between writing and renaming

    with atomic_saves():
        monkeypatch.setattr(os, "replace", killed)
        with pytest.raises(KeyboardInterrupt):
            paddle.save({"w": paddle.zeros([1])}, path)
        monkeypatch.undo()
    assert float(paddle.load(path)["w"]) == 1.0


def test_atomic_saves_write_whole_files_and_restore_paddle_save(tmp_path):
    original = paddle.save
    with atomic_saves():
        assert paddle.save is not original
        paddle.save({"w": paddle.full([3], 2.0)}, str(tmp_path / "model.pdparams"))
    assert paddle.save is original
    assert os.listdir(tmp_path) == ["model.pdparams"]
    assert paddle.load(str(tmp_path / "model.pdparams"))["w"].tolist() == [2.0, 2.0, 2.0]


def test_latest_complete_checkpoint_is_chosen(tmp_path):
    _checkpoint(tmp_path, 2)
    newest_complete = _checkpoint(tmp_path, 10)
    _checkpoint(tmp_path, 12, files=("model.pdparams",))  # killed before model.pdopt
    (tmp_path / "iter_9x").mkdir()
    (tmp_path / "best_model").mkdir()
    assert latest_checkpoint(str(tmp_path)) == newest_complete
    assert resolve_resume("auto", str(tmp_path)) == newest_complete
    assert resolve_resume("auto", str(tmp_path / "fresh")) is None
    assert resolve_resume(None, str(tmp_path)) is None


def test_incomplete_or_wrong_resume_paths_are_named(tmp_path):
    incomplete = _checkpoint(tmp_path, 4, files=("model.pdparams",))
    with pytest.raises(UserError, match=r"iter_4 is an incomplete checkpoint \(missing model.pdopt\)"):
        resolve_resume(incomplete, str(tmp_path))
    with pytest.raises(UserError, match=r"--resume_model .*nowhere: expected a checkpoint directory named iter_N"):
        resolve_resume(str(tmp_path / "nowhere"), str(tmp_path))
