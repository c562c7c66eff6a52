"""LabelMe shapes rasterised as labelme draws them: compared with the same shapes drawn by OpenCV."""
import json
import math
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from paddleseg_liteseg.datasets.labelme_shapes import rasterise, shape_mask
from paddleseg_liteseg.datasets.prepare_dataset import prepare_dataset
from paddleseg_liteseg.errors import DatasetError

HEIGHT, WIDTH = 60, 80


def cv2_mask(shape_type, points):
    """The shape drawn independently: OpenCV fills, a width-10 line as its rectangle."""
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    pts = np.round(np.array(points)).astype(np.int32)
    if shape_type == "polygon":
        cv2.fillPoly(mask, [pts], 1)
    elif shape_type == "rectangle":
        cv2.rectangle(mask, tuple(pts[0]), tuple(pts[1]), 1, thickness=-1)
    elif shape_type == "circle":
        cv2.circle(mask, tuple(pts[0]), round(math.dist(points[0], points[1])), 1, thickness=-1)
    elif shape_type == "point":
        cv2.circle(mask, tuple(pts[0]), 5, 1, thickness=-1)
    elif shape_type == "line":
        (x0, y0), (x1, y1) = points
        length = math.dist(points[0], points[1])
        nx, ny = -(y1 - y0) / length * 5, (x1 - x0) / length * 5
        corners = [(x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny), (x0 - nx, y0 - ny)]
        cv2.fillPoly(mask, [np.round(np.array(corners)).astype(np.int32)], 1)
    return mask.astype(bool)


def edge_band(mask):
    """Pixels within one pixel of the shape's outline, where two rasterisers may round differently."""
    kernel = np.ones((3, 3), np.uint8)
    as_uint8 = mask.astype(np.uint8)
    return cv2.dilate(as_uint8, kernel).astype(bool) & ~cv2.erode(as_uint8, kernel).astype(bool)


SHAPES = {
    "polygon": [(10, 10), (60, 14), (40, 50)],
    "rectangle": [(50, 40), (12, 8)],  # corners in either order
    "circle": [(40, 30), (40, 48)],
    "line": [(5, 50), (70, 10)],
    "point": [(20, 20)],
}


@pytest.mark.parametrize("shape_type", SHAPES)
def test_each_shape_matches_opencv_but_on_its_outline(shape_type):
    ours, theirs = shape_mask((HEIGHT, WIDTH), shape_type, SHAPES[shape_type]), cv2_mask(shape_type, SHAPES[shape_type])
    disagree = ours != theirs
    assert theirs.sum() > 50
    assert not (disagree & ~edge_band(theirs)).any()
    assert disagree.sum() < 0.25 * theirs.sum()


def write_annotation(path, shapes):
    with open(path, "w") as file:
        json.dump({"imageHeight": HEIGHT, "imageWidth": WIDTH, "imagePath": "x.jpg",
                   "shapes": [{"label": label, "points": points, "shape_type": shape_type, "group_id": None}
                              for label, shape_type, points in shapes]}, file)


def test_later_shapes_cover_earlier_ones_and_ignore_is_255(tmp_path):
    path = str(tmp_path / "a.json")
    write_annotation(path, [("road", "rectangle", [(0, 0), (79, 59)]), ("car", "circle", SHAPES["circle"]),
                            ("__ignore__", "point", SHAPES["point"])])
    label = rasterise(path, {"_background_": 0, "road": 1, "car": 2})
    expected = np.ones((HEIGHT, WIDTH), np.uint8)
    expected[shape_mask((HEIGHT, WIDTH), "circle", SHAPES["circle"])] = 2
    expected[shape_mask((HEIGHT, WIDTH), "point", SHAPES["point"])] = 255
    np.testing.assert_array_equal(label, expected)
    with pytest.raises(DatasetError, match=r"a.json: label 'car' is not among the class names \(_background_, road\)"):
        rasterise(path, {"_background_": 0, "road": 1})


def test_labelme_folders_become_class_ids_in_first_seen_or_given_order(tmp_path):
    folder = tmp_path / "annotated"  # LabelMe keeps the JSON next to its image
    folder.mkdir()
    for index, shapes in enumerate([[("cat", "polygon", SHAPES["polygon"])],
                                    [("dog", "rectangle", SHAPES["rectangle"]), ("cat", "point", SHAPES["point"])]]):
        cv2.imwrite(str(folder / f"{index}.jpg"), np.zeros((HEIGHT, WIDTH, 3), np.uint8))
        write_annotation(str(folder / f"{index}.json"), shapes)
    summary = prepare_dataset(str(folder), str(folder), str(tmp_path / "first_seen"), split=(1, 1))
    assert summary["format"] == "labelme" and summary["class_names"] == ["_background_", "cat", "dog"]
    given = prepare_dataset(str(folder), str(folder), str(tmp_path / "given"), split=(1, 1),
                            class_names=[("__ignore__", None), ("_background_", None), ("dog", None), ("cat", None)])
    assert given["class_names"] == ["_background_", "dog", "cat"]
    label = np.array(Image.open(tmp_path / "given" / "labels" / "1.png"))
    expected = np.zeros((HEIGHT, WIDTH), np.uint8)
    expected[shape_mask((HEIGHT, WIDTH), "rectangle", SHAPES["rectangle"])] = 1
    expected[shape_mask((HEIGHT, WIDTH), "point", SHAPES["point"])] = 2
    np.testing.assert_array_equal(label, expected)
    assert os.path.isfile(tmp_path / "given" / "pp_liteseg_t.yml")
