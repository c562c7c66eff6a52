"""The image a request sends, as the 8-bit BGR array ``paddleseg infer`` would read from a file.

Before anything is decoded, the header's width and height are checked against the pixel limit: a
small PNG can claim 50000 x 50000 pixels and would take gigabytes once decoded. A JPEG cut short is
refused too (OpenCV would decode its first rows and fill the rest with grey).
"""
import base64
import binascii
import io
import warnings

from ..errors import UserError
from ..image_files import ImageError, decode_image

JPEG_START = b"\xff\xd8"
JPEG_START_OF_SCAN = b"\xff\xda"
JPEG_END = b"\xff\xd9"


class RequestError(UserError):
    """A request the server refuses; ``status`` is its HTTP status, the message says why."""

    def __init__(self, message, status=422):
        super().__init__(message)
        self.status = status


def from_base64(text, field):
    """The bytes of Base64 ``text``, or a RequestError naming ``field``."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)  # MIME encoders wrap lines
    except (binascii.Error, ValueError):
        raise RequestError(f"{field}: not Base64 (nor a URL); send the image file's bytes encoded in Base64") from None


def image_from_bytes(data, max_megapixels, source="image"):
    """``data`` (an encoded image) as 8-bit BGR (H, W, 3), or a RequestError saying why not."""
    if not data:
        raise RequestError(f"{source}: empty; send an image file's bytes")
    width, height = _header_size(data, source, max_megapixels)
    if width * height > max_megapixels * 1e6:
        raise RequestError(f"{source}: {width} x {height} pixels is over the server's limit of {max_megapixels:g} "
                           f"megapixels (`paddleseg serve --max_megapixels` raises it)", status=413)
    if data[:2] == JPEG_START and data.rfind(JPEG_END) < data.rfind(JPEG_START_OF_SCAN):
        raise RequestError(f"{source}: a truncated JPEG (its data ends before the end-of-image marker)")
    try:
        return decode_image(data, source)
    except ImageError as error:
        raise RequestError(str(error)) from None


def _header_size(data, source, max_megapixels):
    """(width, height) from the image's header, read without decoding its pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except Image.DecompressionBombError:
        raise RequestError(f"{source}: its header claims far more pixels than the server's limit of "
                           f"{max_megapixels:g} megapixels (`paddleseg serve --max_megapixels` raises it)",
                           status=413) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise RequestError(f"{source}: not an image (no PNG, JPEG, BMP, TIFF or WebP header)") from None
