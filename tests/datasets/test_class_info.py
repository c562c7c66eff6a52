"""Class names and colours read from wherever a dataset keeps them."""
from types import SimpleNamespace

from paddleseg_liteseg.datasets import CamVid
from paddleseg_liteseg.datasets.class_info import class_names, palette


def test_names_and_colours_come_from_the_dataset_class():
    assert class_names(CamVid)[:2] == ["Sky", "Building"]
    assert palette(CamVid)[0] == (128, 128, 128) and len(palette(CamVid)) == 11


def test_names_come_from_class_names_txt_in_the_dataset_root(tmp_path):
    (tmp_path / "class_names.txt").write_text("background\n\ncrack\n")
    assert class_names(SimpleNamespace(dataset_root=str(tmp_path))) == ["background", "crack"]


def test_unknown_names_and_colours_are_none(tmp_path):
    dataset = SimpleNamespace(dataset_root=str(tmp_path))
    assert class_names(dataset) is None and palette(dataset) is None


def test_names_and_colours_come_from_dataset_json_written_by_prepare_dataset(tmp_path):
    (tmp_path / "dataset.json").write_text('{"class_names": ["sea", "ship"], "palette": [[0, 0, 80], [250, 250, 0]]}')
    dataset = SimpleNamespace(dataset_root=str(tmp_path))
    assert class_names(dataset) == ["sea", "ship"] and palette(dataset) == [(0, 0, 80), (250, 250, 0)]
    (tmp_path / "class_names.txt").write_text("water\nboat\n")
    assert class_names(dataset) == ["water", "boat"]  # class_names.txt first
