"""Shipped configs by name: every config resolves by its file stem, unknown names get suggestions,
paths stay paths, and configs/README.md states what each one targets."""
import os

import pytest

from paddleseg_liteseg.errors import ConfigError
from paddleseg_liteseg.shipped_configs import config_root, dataset_of, resolve_config, shipped_configs, targets

TOY = "pp_liteseg_stdc1_toy_256x128_300"


def test_every_config_file_has_a_name_and_no_base_file_does():
    files = {os.path.relpath(path, config_root()) for path in shipped_configs().values()}
    assert "toy/pp_liteseg_stdc1_toy_256x128_300.yml" in files
    assert len(files) == 7 and not any(path.startswith("_base_") for path in files)


@pytest.mark.parametrize("name", [TOY, TOY + ".yml"])
def test_a_name_resolves_to_the_shipped_file_from_any_directory(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = resolve_config(name)
    assert os.path.isabs(path) and path.endswith(os.path.join("toy", TOY + ".yml")) and os.path.isfile(path)


def test_paths_are_paths_even_when_missing(tmp_path, monkeypatch):
    local = tmp_path / f"{TOY}.yml"
    local.write_text("batch_size: 2\n")
    monkeypatch.chdir(tmp_path)
    assert resolve_config(f"{TOY}.yml") == f"{TOY}.yml"  # a file here wins over the shipped one
    assert resolve_config("configs/missing.yml") == "configs/missing.yml"  # load_config reports it


def test_an_unknown_name_suggests_the_closest():
    with pytest.raises(ConfigError) as error:
        resolve_config("pp_liteseg_stdc1_cityscape_scale0.5")
    message = str(error.value)
    assert message.startswith("pp_liteseg_stdc1_cityscape_scale0.5: no such file, and no shipped config")
    assert "did you mean 'pp_liteseg_stdc1_cityscapes_1024x512_scale0.5_160k'" in message
    assert "`paddleseg configs` lists them" in message


def test_the_targets_table_covers_every_config():
    table = targets()
    assert set(table) == set(shipped_configs())
    assert table["pp_liteseg_stdc2_camvid_960x720_10k"] == {"model": "PP-LiteSeg-B", "miou": "75.0 test"}
    assert dataset_of(shipped_configs()["pp_liteseg_stdc1_cityscapes_1024x512_scale0.75_160k"]) == "cityscapes"
