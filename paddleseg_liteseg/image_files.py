"""The images a command is given: listing them, and reading each one or saying why it can't be.

``predict``, ``infer`` and int8 calibration take an image, a folder or a file list. Real folders hold grayscale,
RGBA and 16-bit images next to empty or mislabelled files; each image is brought to 8-bit BGR (what
the models were trained on), and a file that cannot be read becomes a per-file error while the
rest of the folder is still processed.
"""
import os

import cv2
import numpy as np

from .errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
OPENCV_PIXEL_LIMIT_ENV = "OPENCV_IO_MAX_IMAGE_PIXELS"  # OpenCV's own setting, read when it loads
OPENCV_PIXEL_LIMIT = 1 << 30  # OpenCV's default for it


class ImageError(UserError):
    """One input file that is not a usable image; the message starts with its path."""


def list_images(path):
    """(images, base directory or None, number of non-image files skipped) for an image, a folder
    (searched recursively) or a text file listing image paths relative to it."""
    if os.path.isdir(path):
        images, skipped = [], 0
        for folder, _, files in os.walk(path):
            for name in sorted(files):
                if name.lower().endswith(IMAGE_SUFFIXES):
                    images.append(os.path.join(folder, name))
                elif not name.startswith("."):
                    skipped += 1
        if not images:
            raise UserError(f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder", path=path)
        return sorted(images), path, skipped
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file or folder", path=path)
    if path.lower().endswith(IMAGE_SUFFIXES):
        return [path], None, 0
    base = os.path.dirname(path)
    with open(path, errors="replace") as listing:
        images = [os.path.join(base, line.split()[0]) for line in listing if line.strip()]
    if not images:
        raise UserError(f"{path}: an empty file list", path=path)
    return images, base, 0


def read_image(path):
    """The image at ``path`` as 8-bit BGR (H, W, 3), decoded as PaddleSeg's ``cv2.imread`` does
    (gray and BGRA to BGR, 16-bit to 8-bit, EXIF orientation applied); raises ImageError naming
    the file when it can't be."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageError(f"{path}: cannot be read ({error.strerror or error})", path=path) from None
    return decode_image(data, path)


def decode_image(data, source):
    """Encoded image bytes (a uint8 array or ``bytes``) as 8-bit BGR, as ``read_image`` decodes a
    file; ``source`` names them in the ImageError raised when they can't be."""
    data = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    if data.size == 0:
        raise ImageError(f"{source}: empty file", path=source)
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error:  # OpenCV 4.5 asserts where an image has more pixels than it decodes
        image = None
    if image is None:
        size = _header_size(data)
        limit = int(os.environ.get(OPENCV_PIXEL_LIMIT_ENV, OPENCV_PIXEL_LIMIT))
        if size and size[0] * size[1] > limit:
            raise ImageError(f"{source}: {size[0]}x{size[1]} is {size[0] * size[1]} pixels, more than OpenCV decodes "
                             f"({limit}); set {OPENCV_PIXEL_LIMIT_ENV} higher in the environment that starts "
                             "the command", path=source)
        raise ImageError(f"{source}: not an image OpenCV can decode (corrupt, truncated or another format)",
                         path=source)
    return image


def _header_size(data):
    """(width, height) as the image's header gives it (PIL reads no pixels for it), or None."""
    import io

    from PIL import Image

    bomb_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # only the header is read here
    try:
        with Image.open(io.BytesIO(data.tobytes())) as image:
            return image.size
    except Exception:  # not an image PIL knows either: the caller says so
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = bomb_limit
