"""``paddleseg configs`` and ``--config NAME`` from a directory without configs."""
import pytest

from paddleseg_liteseg.cli import main


def test_configs_lists_names_datasets_and_targets(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["configs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["name", "dataset"]
    rows = {line.split()[0]: line.split() for line in lines[1:8]}
    assert rows["pp_liteseg_stdc1_cityscapes_1024x512_scale0.5_160k"][1:3] == ["cityscapes", "PP-LiteSeg-T1"]
    assert "73.1 val / 72.0 test" in next(line for line in lines if line.startswith("pp_liteseg_stdc1_cityscapes_1024x512_scale0.5"))
    assert rows["pp_liteseg_stdc2_camvid_960x720_10k"][1] == "camvid"


def test_export_takes_a_shipped_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--config", "pp_liteseg_stdc1_toy_256x128_300", "--save_dir", "out"]) == 0
    assert (tmp_path / "out" / "deploy.yaml").is_file()


def test_an_unknown_name_is_a_flag_error_with_suggestions(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["check-data", "--config", "pp_liteseg_stdc1_toy"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("paddleseg check-data: error: argument --config: pp_liteseg_stdc1_toy: no such file")
    assert "did you mean 'pp_liteseg_stdc1_toy_256x128_300'?" in error
