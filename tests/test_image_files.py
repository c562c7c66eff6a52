import cv2
import numpy as np
import pytest

from paddleseg_liteseg.errors import UserError
from paddleseg_liteseg.image_files import ImageError, list_images, read_image


def test_every_decodable_kind_becomes_8_bit_bgr(tmp_path):
    kinds = {
        "gray.png": np.full((5, 7), 100, np.uint8),
        "rgba.png": np.dstack([np.full((5, 7, 3), 50, np.uint8), np.zeros((5, 7), np.uint8)]),
        "deep.png": np.full((5, 7), 40000, np.uint16),
        "color.jpg": np.full((5, 7, 3), 128, np.uint8),
    }
    for name, array in kinds.items():
        cv2.imwrite(str(tmp_path / name), array)
        image = read_image(str(tmp_path / name))
        assert image.shape == (5, 7, 3) and image.dtype == np.uint8
        np.testing.assert_array_equal(image, cv2.imread(str(tmp_path / name)))  # what PaddleSeg reads


@pytest.mark.parametrize("content, reason", [(b"", "empty file"),
                                             (b"just text", "not an image OpenCV can decode")])
def test_unusable_files_are_named(tmp_path, content, reason):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=f"^{path}: {reason}"):
        read_image(str(path))


def test_truncated_png_is_named(tmp_path):
    path = tmp_path / "cut.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ImageError, match="cut.png"):
        read_image(str(path))


def test_folder_listing_recurses_and_counts_other_files(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.png", "sub/b.JPG", "notes.txt", ".hidden.png~"):
        (tmp_path / name).write_bytes(b"x")
    images, base, skipped = list_images(str(tmp_path))
    assert images == [str(tmp_path / "a.png"), str(tmp_path / "sub" / "b.JPG")]
    assert base == str(tmp_path) and skipped == 1


def test_file_list_paths_are_relative_to_it(tmp_path):
    (tmp_path / "list.txt").write_text("x/a.png label.png\n\ny.png\n")
    assert list_images(str(tmp_path / "list.txt")) == (
        [str(tmp_path / "x" / "a.png"), str(tmp_path / "y.png")], str(tmp_path), 0)


@pytest.mark.parametrize("setup, message", [(lambda p: None, "no such file or folder"),
                                            (lambda p: p.mkdir(), "no image files")])
def test_nothing_to_read_is_a_clear_error(tmp_path, setup, message):
    target = tmp_path / "input"
    setup(target)
    with pytest.raises(UserError, match=message):
        list_images(str(target))
