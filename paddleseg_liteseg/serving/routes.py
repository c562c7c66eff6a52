"""The endpoints of ``paddleseg serve`` and what they depend on: the settings and the model service
that ``create_app`` keeps in ``app.state``, the API key, and a model that has loaded and run once.

PaddleX's endpoint and ``/segment`` need the API key where one is set; the probes, ``/metrics``
and the page never do (a prober or a scraper has no key). A JSON result is PaddleX's
``ResultResponse``, which the route's ``response_model`` validates; the inference answer is written
straight from its label array (``responses.label_map_result``).
"""
import hmac
import json
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import MultiPartException, MultiPartParser

from .model_service import ModelService
from .paddlex_protocol import (ENDPOINT, InferRequest, InferResult, ResultResponse, labels_at, resized_for,
                               target_size_error)
from .request_images import RequestError, from_base64, image_from_bytes
from .responses import (Readiness, UploadResult, class_shares, jpeg_base64, label_map_result, no_result,
                        png_base64, png_bytes, with_result)
from .settings import ServeSettings
from .url_inputs import fetch, is_url

UPLOAD_ENDPOINT = "/segment"
UPLOAD_FIELD = "file"
MODEL_PATHS = (ENDPOINT, UPLOAD_ENDPOINT)
LOADING = "the model is still loading; retry when GET /health (or GET /ready) answers 200"
CONFIG_MODEL_REASON = "a config's model, in dygraph"

router = APIRouter()


def app_settings(request: Request) -> ServeSettings:
    return request.app.state.settings


def loaded_model(request: Request) -> ModelService:
    """The model service once its model has loaded and run once; 503 until then, saying whether the
    model is loading or what failed."""
    service = request.app.state.service
    if service.error is not None:
        raise RequestError(f"the model failed to load: {service.error}", status=503)
    if not service.ready:
        raise RequestError(LOADING, status=503)
    return service


Settings = Annotated[ServeSettings, Depends(app_settings)]
LoadedModel = Annotated[ModelService, Depends(loaded_model)]


def authorized(request: Request, settings: Settings):
    """401 unless the request sends the API key (where one is set), compared in constant time."""
    if not settings.api_key:
        return
    given = request.headers.get("x-api-key") or bearer_token(request.headers.get("authorization", ""))
    if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
        raise RequestError("missing or wrong API key: send it as the X-API-Key header "
                           "(or Authorization: Bearer KEY)", status=401)


def bearer_token(header):
    """The token of an ``Authorization: Bearer TOKEN`` header, else ""."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@router.post(ENDPOINT, response_model=ResultResponse[InferResult], dependencies=[Depends(authorized)],
             summary="Segment an image (PaddleX's protocol)")
async def paddlex_infer(body: InferRequest, request: Request, service: LoadedModel, settings: Settings):
    problem = target_size_error(body.targetSize)
    if problem:
        raise RequestError(problem)
    if is_url(body.image):
        data = await run_in_threadpool(fetch, body.image, settings.allow_url_hosts, settings.url_timeout_s,
                                       settings.max_body_bytes)
    else:
        data = from_base64(body.image, "image")
    image, labels, _ = await _segment(service, data, body.targetSize)
    visualize = settings.visualize if body.visualize is None else body.visualize
    overlay = jpeg_base64(service.predictor.overlay(image, labels)) if visualize else None
    return label_map_result(request.state.log_id, labels, overlay)


@router.post(UPLOAD_ENDPOINT, response_model=ResultResponse[UploadResult], dependencies=[Depends(authorized)],
             summary="Segment an uploaded image file",
             description="Multipart form with the image in the `file` field. Answers the label map as a "
                         "single-channel PNG (pixel value = class id) with the classes, their pixel shares, the "
                         "backend and the model time in X- headers; `format=json` answers them as JSON, with "
                         "the overlay as a Base64 JPEG when `visualize=true`.",
             openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": [UPLOAD_FIELD],
                 "properties": {UPLOAD_FIELD: {"type": "string", "format": "binary"}}}}}}},
             responses={200: {"content": {"image/png": {}}}})
async def upload(request: Request, service: LoadedModel, settings: Settings,
                 answer: str = Query("png", alias="format", pattern="^(png|json)$"), visualize: bool = Query(False)):
    name, data = await _uploaded_file(request, settings.max_body_bytes)
    image, labels, segmented = await _segment(service, data, source=name)
    predictor = service.predictor
    classes = class_shares(labels, predictor.class_names, predictor.color_map)
    model_time_ms = round(1000 * segmented.model_seconds, 3)
    if answer == "json":
        overlay = jpeg_base64(predictor.overlay(image, labels)) if visualize else None
        result = UploadResult(size=list(labels.shape), classes=classes, backend=predictor.backend,
                              precision=service.precision, modelTimeMs=model_time_ms, batchSize=segmented.batch_size,
                              labelMapPng=png_base64(labels), image=overlay)
        return with_result(request.state.log_id, result)
    headers = {"X-Log-Id": request.state.log_id, "X-Backend": predictor.backend, "X-Precision": service.precision,
               "X-Model-Time-Ms": str(model_time_ms), "X-Batch-Size": str(segmented.batch_size),
               "X-Classes": json.dumps(classes, separators=(",", ":"))}
    return Response(png_bytes(labels), media_type="image/png", headers=headers)


@router.get("/live", summary="Liveness: 200 as soon as the process answers (a livenessProbe's endpoint)")
async def live(request: Request):
    return no_result(request.state.log_id, 0, "Alive")


@router.get("/health", dependencies=[Depends(loaded_model)],
            summary="PaddleX's health check: 200 once the model has loaded and run once, else 503",
            description="PaddleX's clients post as soon as this answers 200, so it waits for the model; "
                        "`/live` answers while the model loads.")
async def health(request: Request):
    return no_result(request.state.log_id, 0, "Healthy")


@router.get("/ready", response_model=ResultResponse[Readiness],
            summary="Readiness: 200 once the model has loaded and run once, with what it runs")
async def ready(request: Request, service: LoadedModel, settings: Settings):
    predictor = service.predictor
    readiness = Readiness(backend=predictor.backend, precision=service.precision,
                          reason=predictor.choice.reason if predictor.choice else CONFIG_MODEL_REASON,
                          batching=service.batching_note, classNames=predictor.class_names,
                          apiKeyRequired=bool(settings.api_key))
    return with_result(request.state.log_id, readiness, "Ready")


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def scrape(request: Request):
    body, content_type = request.app.state.metrics.exposition()
    return Response(body, media_type=content_type)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page():
    return HTMLResponse(resources.files(__package__).joinpath("page.html").read_text())


async def _segment(service, data, target_size=None, source="image"):
    """The request's image, its labels at the image's own size and the model's Segmented result."""
    with service.arriving():
        image = await run_in_threadpool(image_from_bytes, data, service.settings.max_megapixels, source)
        segmented = await service.segment(resized_for(image, target_size))
    return image, labels_at(segmented.labels, *image.shape[:2]), segmented


async def _uploaded_file(request, max_body):
    """(file name, bytes) of the multipart upload's ``file`` field, parsed in memory (a spooled
    upload would be written to a temporary file)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise RequestError(f"expected a multipart/form-data upload with the image in the {UPLOAD_FIELD!r} field, "
                           f"got Content-Type {content_type or 'none'!r} (curl -F {UPLOAD_FIELD}=@image.jpg)")
    parser = MultiPartParser(request.headers, request.stream(), max_files=1, max_fields=8)
    parser.spool_max_size = max_body + 1
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise RequestError(f"the multipart body cannot be read: {error.message}") from None
    upload_file = form.get(UPLOAD_FIELD)
    if upload_file is None or isinstance(upload_file, str):
        raise RequestError(f"{UPLOAD_FIELD}: missing; send the image as the {UPLOAD_FIELD!r} file field "
                           f"(curl -F {UPLOAD_FIELD}=@image.jpg)")
    data = await upload_file.read()
    await form.close()
    return upload_file.filename or UPLOAD_FIELD, data
