"""LabelMe annotations (one JSON file an image) rasterised into a class-id mask.

Each shape is drawn with PIL's ``ImageDraw`` exactly as labelme's own ``labelme.utils.shape_to_mask``
draws it (filled polygons and rectangles, circles from centre and rim point, lines and line strips
10 px wide, points as discs of radius 5), in file order, later shapes over earlier ones, as
labelme's ``labelme2voc`` does. The ``labelme`` package itself is not a dependency: it installs a
Qt GUI (PyQt5), a segment-anything runtime and scikit-image to offer that one function.
"""
import json
import math

import numpy as np
from PIL import Image, ImageDraw

from ..errors import DatasetError

BACKGROUND = "_background_"  # labelme's name for class 0
IGNORE = "__ignore__"  # labelme's name for pixels to ignore
LINE_WIDTH = 10  # labelme's shape_to_mask defaults
POINT_RADIUS = 5
SHAPE_TYPES = ("polygon", "rectangle", "circle", "line", "linestrip", "point")


def read_annotation(path):
    """(height, width, [(label, shape_type, [(x, y), ...]), ...]) of a LabelMe JSON file."""
    try:
        with open(path, encoding="utf-8") as file:
            annotation = json.load(file)
        height, width = int(annotation["imageHeight"]), int(annotation["imageWidth"])
        shapes = [(str(shape["label"]), shape.get("shape_type") or "polygon",
                   [tuple(map(float, point)) for point in shape["points"]])
                  for shape in annotation["shapes"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{path}: not a LabelMe annotation (a JSON file with imageHeight, imageWidth "
                           f"and shapes of label and points): {type(error).__name__}: {error}") from None
    for label, shape_type, points in shapes:
        if shape_type not in SHAPE_TYPES:
            raise DatasetError(f"{path}: shape {label!r} is a {shape_type!r}; supported shape types are "
                               f"{', '.join(SHAPE_TYPES)}")
        if not points:
            raise DatasetError(f"{path}: shape {label!r} ({shape_type}) has no points")
    return height, width, shapes


def shape_mask(size, shape_type, points):
    """Boolean (height, width) mask of one shape, drawn as labelme's ``shape_to_mask`` draws it.

    Args:
        size (tuple): (height, width) of the image.
        shape_type (str): One of SHAPE_TYPES.
        points (list): The shape's (x, y) points in pixels.
    """
    mask = Image.new("1", (size[1], size[0]), 0)
    draw = ImageDraw.Draw(mask)
    if shape_type == "circle":
        (cx, cy), (px, py) = points[0], points[1]
        radius = math.hypot(cx - px, cy - py)
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], outline=1, fill=1)
    elif shape_type == "rectangle":
        draw.rectangle(_corners(points), outline=1, fill=1)
    elif shape_type in ("line", "linestrip"):
        draw.line(xy=points, fill=1, width=LINE_WIDTH)
    elif shape_type == "point":
        cx, cy = points[0]
        draw.ellipse([cx - POINT_RADIUS, cy - POINT_RADIUS, cx + POINT_RADIUS, cy + POINT_RADIUS], outline=1, fill=1)
    else:
        draw.polygon(xy=points, outline=1, fill=1)
    return np.asarray(mask, dtype=bool)


def rasterise(path, class_ids, ignore_index=255):
    """The uint8 (height, width) class-id mask of a LabelMe file: background 0, ``__ignore__`` pixels
    ``ignore_index``, every other shape its id in ``class_ids`` (label -> id)."""
    height, width, shapes = read_annotation(path)
    label = np.zeros((height, width), dtype=np.uint8)
    for name, shape_type, points in shapes:
        value = ignore_index if name == IGNORE else class_ids.get(name)
        if value is None:
            raise DatasetError(f"{path}: label {name!r} is not among the class names "
                               f"({', '.join(class_ids)}); add it to them")
        label[shape_mask((height, width), shape_type, points)] = value
    return label


def _corners(points):
    """The two corners of a rectangle as PIL wants them (top-left first), from LabelMe's two points."""
    (x1, y1), (x2, y2) = points[0], points[-1]
    return [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]
