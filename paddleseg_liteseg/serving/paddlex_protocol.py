"""PaddleX's semantic-segmentation serving protocol, field for field, so its clients work unchanged.

``POST /semantic-segmentation`` takes ``{"image": Base64 or URL, "targetSize": int | [w, h] | -1 |
null, "visualize": bool | null}`` and answers ``{"logId", "errorCode": 0, "errorMsg": "Success",
"result": {"labelMap": [...row-major class ids...], "size": [height, width], "image": Base64 JPEG |
null}}``; a failure answers ``{"logId", "errorCode": <HTTP status>, "errorMsg"}``.

``targetSize`` is PaddleX's ``Resize``: the image is resized to fit [w, h] (an int n means [n, n])
keeping its aspect ratio, each side rounded up to a multiple of 32, and the label map is resized
back to the image's own size (nearest). -1 and null (or leaving it out) resize nothing beyond the
model's own preprocessing, as ``paddleseg infer`` does (an export's deploy.yaml normally resizes
nothing, so the image runs at its own size).

Every answer is one of PaddleX's two envelopes: ``ResultResponse[T]`` (a success with a result) or
``NoResultResponse`` (every error, and a success with nothing to return).
"""
import math
import uuid
from typing import Generic, List, Optional, TypeVar, Union

import cv2
from pydantic import BaseModel, Field, StrictBool, StrictInt

ENDPOINT = "/semantic-segmentation"
SIZE_DIVISOR = 32
NO_RESIZE = -1


class InferRequest(BaseModel):
    image: str = Field(description="The image file's bytes in Base64, or a URL (only of hosts the server allows)")
    targetSize: Optional[Union[StrictInt, List[StrictInt]]] = Field(
        None, description="Resize to fit [width, height] (an int n: [n, n]) keeping the aspect ratio; "
                          "-1: the image's own size; null: the model's preprocessing")
    visualize: Optional[StrictBool] = Field(None, description="Return the overlay as a Base64 JPEG (null: the "
                                                        "server's default)")


class InferResult(BaseModel):
    labelMap: List[int] = Field(description="Class id of each pixel, row-major")
    size: List[int] = Field(description="[height, width]")
    image: Optional[str] = Field(None, description="The overlay as a Base64 JPEG, or null")


ResultT = TypeVar("ResultT")


class NoResultResponse(BaseModel):
    """PaddleX's envelope without a result: ``errorCode`` 0 for a success, else the HTTP status."""

    logId: str
    errorCode: int = Field(description="0, or the HTTP status of an error")
    errorMsg: str


class ResultResponse(NoResultResponse, Generic[ResultT]):
    """PaddleX's envelope of a success with a result (``ResultResponse[InferResult]`` for inference)."""

    errorCode: int = 0
    errorMsg: str = "Success"
    result: ResultT


def new_log_id():
    return str(uuid.uuid4())


def target_size_error(target_size):
    """Why ``target_size`` is not a valid targetSize, or None when it is."""
    if target_size is None or target_size == NO_RESIZE:
        return None
    sizes = [target_size] if isinstance(target_size, int) else target_size
    if isinstance(target_size, list) and len(sizes) != 2 or any(size <= 0 for size in sizes):
        return f"targetSize: expected a positive int, [width, height] of positive ints, -1 or null; got {target_size}"
    return None


def resized_for(image, target_size):
    """``image`` as PaddleX's Resize(keep_ratio=True, size_divisor=32) makes it for ``target_size``."""
    if target_size is None or target_size == NO_RESIZE:
        return image
    target_width, target_height = (target_size, target_size) if isinstance(target_size, int) else target_size
    height, width = image.shape[:2]
    scale = min(max(target_width, target_height) / max(width, height),
                min(target_width, target_height) / min(width, height))
    size = [math.ceil(round(side * scale) / SIZE_DIVISOR) * SIZE_DIVISOR for side in (width, height)]
    return cv2.resize(image, tuple(size), interpolation=cv2.INTER_LINEAR)


def labels_at(labels, height, width):
    """``labels`` brought back to the image's (height, width), nearest neighbour as PaddleX does."""
    if labels.shape == (height, width):
        return labels
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
