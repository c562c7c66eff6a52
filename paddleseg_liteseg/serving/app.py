"""The HTTP application of ``paddleseg serve`` (FastAPI): PaddleX's endpoint, an upload endpoint that
answers a PNG, liveness, health, readiness, Prometheus metrics, the OpenAPI page and the upload page.

``/health`` keeps PaddleX's meaning, "send now": PaddleX builds its pipeline before its app starts,
so its clients post as soon as ``/health`` answers 200. Here the model loads after the process
starts, so ``/health`` answers 503 until the model has loaded and run once, like ``/ready``;
``/live`` is the one that answers as soon as the process runs (a livenessProbe's).

Every error answers PaddleX's envelope ``{"logId", "errorCode": <HTTP status>, "errorMsg"}``. Nothing a
request sends is written to disk or logged: the log has each request's logId, endpoint, status,
body size and time.
"""
import hmac
import json
import logging
import time
from importlib import resources

import orjson
from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.concurrency import run_in_threadpool

from .metrics import ServerMetrics
from .model_service import ModelService, load_predictor
from .paddlex_protocol import (ENDPOINT, ErrorResponse, InferRequest, InferResponse, labels_at, new_log_id, resized_for, target_size_error)
from .request_images import RequestError, from_base64, image_from_bytes
from .responses import class_shares, jpeg_base64, no_result, png_base64, png_bytes
from .settings import ServeSettings
from .url_inputs import fetch, is_url

LOG = logging.getLogger("paddleseg_liteseg.serving")
UPLOAD_ENDPOINT = "/segment"
UPLOAD_FIELD = "file"
KNOWN_PATHS = ("/", "/live", "/health", "/ready", "/metrics", "/docs", "/openapi.json", "/redoc", ENDPOINT,
               UPLOAD_ENDPOINT)
MODEL_PATHS = (ENDPOINT, UPLOAD_ENDPOINT)
LOADING = "the model is still loading; retry when GET /health (or GET /ready) answers 200"


def create_app(settings, loader=load_predictor):
    """The application serving the model ``settings`` describe (``loader`` builds its Predictor)."""
    from fastapi_offline import FastAPIOffline

    metrics = ServerMetrics()
    waiting = _Counter()
    service = ModelService(settings, metrics, waiting.value, loader)
    max_body = int(settings.max_body_mb * 1e6)

    async def lifespan(app):
        service.start()
        yield
        service.stop()

    app = FastAPIOffline(title="PP-LiteSeg segmentation server", lifespan=lifespan,
                         description="PaddleX's semantic-segmentation protocol, a PNG upload endpoint, liveness, "
                                     "health, readiness and Prometheus metrics.",
                         responses={code: {"model": ErrorResponse} for code in (401, 413, 422, 500, 503)})
    app.add_middleware(_RequestLog, metrics=metrics, max_body=max_body)

    def authorized(request: Request):
        if not settings.api_key:
            return
        given = request.headers.get("x-api-key") or _bearer(request.headers.get("authorization", ""))
        if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
            raise RequestError("missing or wrong API key: send it as the X-API-Key header "
                               "(or Authorization: Bearer KEY)", status=401)

    def require_model():
        """503 until the model has loaded and run once, saying whether it is loading or what failed."""
        if service.error is not None:
            raise RequestError(f"the model failed to load: {service.error}", status=503)
        if not service.ready:
            raise RequestError(LOADING, status=503)

    async def segment(data, target_size=None, source="image"):
        """The request image, its labels at its own size and the model's Segmented result."""
        require_model()
        with waiting:
            image = await run_in_threadpool(image_from_bytes, data, settings.max_megapixels, source)
            result = await service.segment(resized_for(image, target_size))
        return image, labels_at(result.labels, *image.shape[:2]), result

    @app.post(ENDPOINT, response_model=InferResponse, dependencies=[Depends(authorized)],
              summary="Segment an image (PaddleX's protocol)")
    async def paddlex_infer(body: InferRequest, request: Request):
        problem = target_size_error(body.targetSize)
        if problem:
            raise RequestError(problem)
        if is_url(body.image):
            data = await run_in_threadpool(fetch, body.image, settings.allow_url_hosts, settings.url_timeout_s,
                                           max_body)
        else:
            data = from_base64(body.image, "image")
        image, labels, _ = await segment(data, body.targetSize)
        visualize = settings.visualize if body.visualize is None else body.visualize
        overlay = jpeg_base64(service.predictor.overlay(image, labels)) if visualize else None
        content = {"logId": request.state.log_id, "errorCode": 0, "errorMsg": "Success",
                   "result": {"labelMap": labels.ravel(), "size": list(labels.shape), "image": overlay}}
        return Response(orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")

    @app.post(UPLOAD_ENDPOINT, dependencies=[Depends(authorized)], summary="Segment an uploaded image file",
              description="Multipart form with the image in the `file` field. Answers the label map as a "
                          "single-channel PNG (pixel value = class id) with the classes, their pixel shares, the "
                          "backend and the model time in X- headers; `format=json` answers them as JSON, with "
                          "the overlay as a Base64 JPEG when `visualize=true`.",
              openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": [UPLOAD_FIELD],
                  "properties": {UPLOAD_FIELD: {"type": "string", "format": "binary"}}}}}}},
              responses={200: {"content": {"image/png": {}, "application/json": {}}}})
    async def upload(request: Request, answer: str = Query("png", alias="format", pattern="^(png|json)$"),
                     visualize: bool = Query(False)):
        name, data = await _uploaded_file(request, max_body)
        image, labels, result = await segment(data, source=name)
        predictor = service.predictor
        classes = class_shares(labels, predictor.class_names, predictor.color_map)
        about = {"backend": predictor.backend, "precision": service.precision,
                 "modelTimeMs": round(1000 * result.model_seconds, 3), "batchSize": result.batch_size}
        if answer == "json":
            content = {"logId": request.state.log_id, "errorCode": 0, "errorMsg": "Success",
                       "result": {"size": list(labels.shape), "classes": classes, **about,
                                  "labelMapPng": png_base64(labels),
                                  "image": jpeg_base64(predictor.overlay(image, labels)) if visualize else None}}
            return Response(orjson.dumps(content), media_type="application/json")
        headers = {"X-Log-Id": request.state.log_id, "X-Backend": about["backend"], "X-Precision": about["precision"],
                   "X-Model-Time-Ms": str(about["modelTimeMs"]), "X-Batch-Size": str(about["batchSize"]),
                   "X-Classes": json.dumps(classes, separators=(",", ":"))}
        return Response(png_bytes(labels), media_type="image/png", headers=headers)

    @app.get("/live", summary="Liveness: 200 as soon as the process answers (a livenessProbe's endpoint)")
    async def live(request: Request):
        return no_result(request.state.log_id, 0, "Alive")

    @app.get("/health", summary="PaddleX's health check: 200 once the model has loaded and run once, else 503",
             description="PaddleX's clients post as soon as this answers 200, so it waits for the model; "
                         "`/live` answers while the model loads.")
    async def health(request: Request):
        require_model()
        return no_result(request.state.log_id, 0, "Healthy")

    @app.get("/ready", summary="Readiness: 200 once the model has loaded and run once, with what it runs")
    async def ready(request: Request):
        require_model()
        predictor = service.predictor
        return {"logId": request.state.log_id, "errorCode": 0, "errorMsg": "Ready",
                "result": {"backend": predictor.backend, "precision": service.precision,
                           "reason": predictor.choice.reason if predictor.choice else "a config's model, in dygraph",
                           "batching": service.batching_note, "classNames": predictor.class_names,
                           "apiKeyRequired": bool(settings.api_key)}}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def scrape():
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(resources.files(__package__).joinpath("page.html").read_text())

    @app.exception_handler(RequestError)
    async def refused(request, error):
        return _error(request, error.status, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, error):
        return _error(request, 422, _validation_message(error))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, error):
        return _error(request, error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def internal(request, error):
        LOG.error("logId=%s internal error in %s", request.state.log_id, request.url.path, exc_info=error)
        return _error(request, 500, f"internal error ({type(error).__name__}); the server log has it under this logId")

    return app


def create_app_from_environment():
    """``create_app`` with the settings ``paddleseg serve`` put in the environment (each worker's)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    return create_app(ServeSettings.from_environment())


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
    upload = form.get(UPLOAD_FIELD)
    if upload is None or isinstance(upload, str):
        raise RequestError(f"{UPLOAD_FIELD}: missing; send the image as the {UPLOAD_FIELD!r} file field "
                           f"(curl -F {UPLOAD_FIELD}=@image.jpg)")
    data = await upload.read()
    await form.close()
    return upload.filename or UPLOAD_FIELD, data


def _validation_message(error):
    """FastAPI's validation errors as one line naming each field."""
    problems = []
    for entry in error.errors():
        location = ".".join(str(part) for part in entry["loc"] if part not in ("body", "query"))
        if entry["type"] == "json_invalid":
            problems.append("the body is not valid JSON")
        elif entry["type"] == "missing":
            problems.append(f"{location}: missing" if location else
                            "the body is empty; send a JSON object, e.g. {\"image\": \"<Base64>\"}")
        elif entry["type"] == "model_attributes_type":
            problems.append("the body must be a JSON object, e.g. {\"image\": \"<Base64>\"}")
        else:
            problems.append(f"{location}: {entry['msg']}" if location else entry["msg"])
    return "; ".join(dict.fromkeys(problems))


def _error(request, status, message):
    return no_result(request.state.log_id, status, message)


def _bearer(header):
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class _Counter:
    """Requests on their way to the model: entered with ``with``, read by the batcher."""

    def __init__(self):
        self._count = 0

    def value(self):
        return self._count

    def __enter__(self):
        self._count += 1

    def __exit__(self, *exc):
        self._count -= 1


class _BodyTooLarge(StarletteHTTPException):
    """Raised while the body is read, so FastAPI hands it on as the 413 it is."""


class _RequestLog:
    """ASGI middleware: gives each request its logId (``request.state.log_id``), refuses bodies over
    the limit (413), counts requests, errors and latency by endpoint, and logs one line for each
    model request and each error: logId, path, status, body size and time, nothing of the content."""

    def __init__(self, app, metrics, max_body):
        self.app, self.metrics, self.max_body = app, metrics, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, path, log_id = time.perf_counter(), scope["path"], new_log_id()
        scope.setdefault("state", {})["log_id"] = log_id
        status, received = [500], [0]
        endpoint = path if path in KNOWN_PATHS else "other"
        declared = dict(scope["headers"]).get(b"content-length")
        refuse = f"the request body is over the server's limit of {self.max_body / 1e6:g} MB (`--max_body_mb` raises it)"

        async def limited_receive():
            message = await receive()
            received[0] += len(message.get("body", b""))
            if received[0] > self.max_body:
                raise _BodyTooLarge(413, refuse)
            return message

        async def recording_send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        in_flight = endpoint in MODEL_PATHS
        if in_flight:
            self.metrics.in_flight.inc()
        try:
            if declared is not None and declared.isdigit() and int(declared) > self.max_body:
                await no_result(log_id, 413, refuse)(scope, receive, recording_send)
            else:
                await self.app(scope, limited_receive, recording_send)
        finally:
            seconds = time.perf_counter() - start
            if in_flight:
                self.metrics.in_flight.dec()
            self.metrics.requests.labels(endpoint, str(status[0])).inc()
            self.metrics.latency.labels(endpoint).observe(seconds)
            if in_flight or status[0] >= 400:
                LOG.info("logId=%s %s %s %d, %d bytes in, %.1f ms", log_id, scope["method"], path, status[0],
                         received[0], 1000 * seconds)
