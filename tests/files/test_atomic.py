"""A file or folder written through ``atomic_path``: there whole after the block, the previous one kept
(and nothing left beside it) when the block or the rename fails."""
import os

import pytest

from paddleseg_liteseg.files.atomic import PARTIAL_SUFFIX, atomic_path


def test_the_block_writes_beside_the_target_and_the_end_renames(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    with atomic_path(target) as partial:
        assert partial == f"{target}{PARTIAL_SUFFIX}"
        with open(partial, "w") as file:
            file.write("new")
        assert target.read_text() == "old"  # not replaced before the block ends
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["result.json"]


def test_a_failing_block_keeps_the_previous_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as partial:
            with open(partial, "w") as file:
                file.write("half")
            raise KeyboardInterrupt  # killed mid-write
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["result.json"]


def test_a_failing_rename_leaves_nothing_beside_the_target(tmp_path, monkeypatch):
    target = tmp_path / "result.json"

    def refused(source, destination):
        raise PermissionError(destination)

    monkeypatch.setattr(os, "replace", refused)
    with pytest.raises(PermissionError):
        with atomic_path(target) as partial:
            open(partial, "w").close()
    assert os.listdir(tmp_path) == []


def test_folders_too_and_a_leftover_of_a_killed_run_is_cleared(tmp_path):
    target = tmp_path / "extracted"
    leftover = tmp_path / f"extracted{PARTIAL_SUFFIX}"
    leftover.mkdir()
    (leftover / "stale.txt").write_text("from a killed run")
    with atomic_path(target) as partial:
        os.makedirs(os.path.join(partial, "inner"))
        open(os.path.join(partial, "inner", "file.txt"), "w").close()
    assert sorted(os.listdir(target)) == ["inner"] and os.listdir(tmp_path) == ["extracted"]
    with pytest.raises(ValueError):
        with atomic_path(tmp_path / "other", ".unique.part") as partial:
            os.makedirs(partial)
            raise ValueError("extraction failed")
    assert sorted(os.listdir(tmp_path)) == ["extracted"]
