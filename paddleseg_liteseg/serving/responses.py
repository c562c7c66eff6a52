"""What the server answers: every answer in PaddleX's envelope (``with_result``, ``no_result``), the
results of the upload and readiness endpoints, and a label map as a single-channel PNG, each
class's share of the pixels with its name and colour, and the overlay as a JPEG."""
import base64
from typing import List, Optional

import cv2
import numpy as np
import orjson
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from .paddlex_protocol import NoResultResponse, ResultResponse

JPEG_QUALITY = 90


def with_result(log_id, result, message="Success"):
    """PaddleX's ``ResultResponse`` holding ``result`` (a pydantic model), validated as it is built;
    a route declares ``response_model=ResultResponse[type(result)]``, and FastAPI answers it as JSON."""
    return ResultResponse[type(result)](logId=log_id, errorMsg=message, result=result)


def label_map_result(log_id, labels, overlay=None):
    """PaddleX's inference answer (``ResultResponse[InferResult]``) as JSON, serialized from the
    label array directly: the label map is the one large field, ints by construction (a uint8
    array), and building and validating it as a list of Python ints would cost more than the rest
    of the answer. Tests validate these answers against the declared model."""
    content = {"logId": log_id, "errorCode": 0, "errorMsg": "Success",
               "result": {"labelMap": labels.ravel(), "size": list(labels.shape), "image": overlay}}
    return Response(orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")


def no_result(log_id, error_code, message):
    """PaddleX's ``NoResultResponse`` as JSON: HTTP 200 for ``error_code`` 0 (``/health``, ``/live``),
    else ``error_code`` is the HTTP status (every error)."""
    envelope = NoResultResponse(logId=log_id, errorCode=error_code, errorMsg=message)
    return JSONResponse(envelope.model_dump(), status_code=error_code or 200)


class ClassShare(BaseModel):
    """One class present in a label map."""

    id: int
    name: str
    color: List[int] = Field(description="[R, G, B]")
    share: float = Field(description="The class's share of the pixels")


class UploadResult(BaseModel):
    """``POST /segment?format=json``'s result."""

    size: List[int] = Field(description="[height, width]")
    classes: List[ClassShare] = Field(description="The classes present, largest share first")
    backend: str
    precision: str
    modelTimeMs: float = Field(description="The model's time for this image")
    batchSize: int = Field(description="Images in the batch this one ran in")
    labelMapPng: str = Field(description="The label map as a Base64 single-channel PNG (pixel value = class id)")
    image: Optional[str] = Field(None, description="The overlay as a Base64 JPEG, or null")


class Readiness(BaseModel):
    """``GET /ready``'s result: what the server runs and why."""

    backend: str
    precision: str
    reason: str = Field(description="Why this backend and precision")
    batching: str = Field(description="Whether requests run in batches, and why")
    classNames: Optional[List[str]] = None
    apiKeyRequired: bool


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
