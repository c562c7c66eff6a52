"""What the server answers: PaddleX's envelope without a result, and a label map as row-major ids
for PaddleX, a single-channel PNG, each class's share of the pixels with its name and colour, and
the overlay as a JPEG."""
import base64

import cv2
import numpy as np
from fastapi.responses import JSONResponse

JPEG_QUALITY = 90


def no_result(log_id, error_code, message):
    """PaddleX's ``NoResultResponse``, ``{"logId", "errorCode", "errorMsg"}``, as JSON: HTTP 200 for
    ``error_code`` 0 (``/health``, ``/live``), else ``error_code`` is the HTTP status (every error)."""
    return JSONResponse({"logId": log_id, "errorCode": error_code, "errorMsg": message},
                        status_code=error_code or 200)


def class_shares(labels, class_names, color_map):
    """[{"id", "name", "color": [R, G, B], "share"}] of the classes present, largest share first."""
    counts = np.bincount(labels.ravel(), minlength=256)
    present = np.flatnonzero(counts)
    shares = [{"id": int(class_id),
               "name": class_names[class_id] if class_names and class_id < len(class_names) else str(class_id),
               "color": [int(value) for value in color_map[3 * class_id:3 * class_id + 3]],
               "share": round(float(counts[class_id]) / labels.size, 6)}
              for class_id in present]
    return sorted(shares, key=lambda entry: -entry["share"])


def png_bytes(labels):
    """``labels`` as a single-channel 8-bit PNG: each pixel's value is its class id."""
    ok, encoded = cv2.imencode(".png", labels)
    if not ok:
        raise RuntimeError("OpenCV could not encode the label map as PNG")
    return encoded.tobytes()


def png_base64(labels):
    """``png_bytes`` in Base64, for JSON answers."""
    return base64.b64encode(png_bytes(labels)).decode("ascii")


def jpeg_base64(image):
    """A BGR image as a Base64 JPEG (PaddleX's visualisation format)."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("OpenCV could not encode the overlay as JPEG")
    return base64.b64encode(encoded.tobytes()).decode("ascii")
