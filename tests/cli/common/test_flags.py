"""Library errors re-worded for the command line by their fields: the flag that gave the path at fault
in front, the argument asked for as its flag, a missing export file as the export flags."""
import pytest

from paddleseg_liteseg.cli.common.flags import custom_palette, in_flag_terms
from paddleseg_liteseg.errors import ConfigError, UserError


def _reworded(error, **terms):
    with pytest.raises(UserError) as raised:
        with in_flag_terms(**terms):
            raise error
    assert raised.value is error  # the same error, re-worded
    return str(raised.value)


def test_an_error_about_a_path_a_flag_gave_names_the_flag():
    paths = {"--image_path": "data/x", "--model_dir": "out"}
    assert _reworded(ConfigError("data/x: no such file or folder", path="data/x"), paths=paths) == \
        "--image_path data/x: no such file or folder"
    assert _reworded(ConfigError("out/deploy.yaml has no Deploy section", path="out/deploy.yaml"), paths=paths) == \
        "--model_dir out/deploy.yaml has no Deploy section"
    assert _reworded(ConfigError("data/xyz: empty file", path="data/xyz"), paths=paths) == "data/xyz: empty file"
    assert _reworded(ConfigError("data/x: said without its path"), paths=paths) == "data/x: said without its path"


def test_the_argument_an_error_asks_for_becomes_its_flag():
    arguments = {"calib_images": "--calib_image_path"}
    assert _reworded(ConfigError("t.yml: no calibration images; pass calib_images", argument="calib_images"),
                     arguments=arguments) == "t.yml: no calibration images; pass --calib_image_path"
    assert _reworded(ConfigError("calib_images named, but not the argument at fault"), arguments=arguments) == \
        "calib_images named, but not the argument at fault"


def test_a_missing_export_file_names_the_export_flags_that_write_it():
    from paddleseg_liteseg.deploy.exporting.exported_model import MissingExportFile

    error = MissingExportFile("out", "onnx_int8", ("onnx", "int8"))
    assert str(error) == "out has no onnx_int8 model: export it with onnx=True, int8=True"
    assert _reworded(error, paths={"--model_dir": "out"}) == \
        "--model_dir out has no onnx_int8 model: export it with `paddleseg export --onnx --int8`"


def test_custom_color_becomes_rgb_triples():
    assert custom_palette([255, 0, 0, 0, 255, 0]) == [(255, 0, 0), (0, 255, 0)]
    assert custom_palette(None) is None
