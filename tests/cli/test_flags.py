"""Library errors re-worded for the command line: the value's flag in front, argument names as flags."""
import pytest

from paddleseg_liteseg.cli.flags import custom_palette, in_flag_terms
from paddleseg_liteseg.errors import ConfigError, UserError


def _reworded(message, **terms):
    with pytest.raises(UserError) as error:
        with in_flag_terms(**terms):
            raise ConfigError(message)
    assert isinstance(error.value, ConfigError)  # the same error, re-worded
    return str(error.value)


def test_a_message_about_a_flags_value_names_the_flag():
    values = {"--image_path": "data/x", "--model_dir": "out"}
    assert _reworded("data/x: no such file or folder", values=values) == "--image_path data/x: no such file or folder"
    assert _reworded("out/deploy.yaml has no Deploy section", values=values) == \
        "--model_dir out/deploy.yaml has no Deploy section"
    assert _reworded("data/xyz: empty file", values=values) == "data/xyz: empty file"  # another file


def test_argument_names_become_flags_once():
    names = {"calib_images": "--calib_image_path"}
    assert _reworded("t.yml: no calibration images; pass calib_images", names=names) == \
        "t.yml: no calibration images; pass --calib_image_path"
    assert _reworded("use --calib_images_dir", names=names) == "use --calib_images_dir"


def test_custom_color_becomes_rgb_triples():
    assert custom_palette([255, 0, 0, 0, 255, 0]) == [(255, 0, 0), (0, 255, 0)]
    assert custom_palette(None) is None
