"""The HTTP application of ``paddleseg serve`` (FastAPI): the endpoints of ``routes`` behind the
request log of ``request_log``, with the settings, the model service and the metrics in
``app.state``, and every error answered in PaddleX's envelope.

``/health`` keeps PaddleX's meaning, "send now": PaddleX builds its pipeline before its app starts,
so its clients post as soon as ``/health`` answers 200. Here the model loads after the process
starts, so ``/health`` answers 503 until the model has loaded and run once, like ``/ready``;
``/live`` is the one that answers as soon as the process runs (a livenessProbe's).

Every error answers PaddleX's envelope ``{"logId", "errorCode": <HTTP status>, "errorMsg"}``. Nothing a
request sends is written to disk or logged.
"""
import contextlib
import logging

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .metrics import ServerMetrics
from .model_service import ModelService, load_predictor
from .paddlex_protocol import NoResultResponse
from .request_images import RequestError
from .request_log import RequestLog
from .responses import no_result
from .routes import MODEL_PATHS, router
from .settings import ServeSettings

LOG = logging.getLogger("paddleseg_liteseg.serving")
ERROR_STATUSES = (401, 413, 422, 500, 503)


def create_app(settings, loader=load_predictor):
    """The application serving the model ``settings`` describe (``loader`` builds its Predictor)."""
    from fastapi_offline import FastAPIOffline

    metrics = ServerMetrics()
    app = FastAPIOffline(title="PP-LiteSeg segmentation server", lifespan=_lifespan,
                         description="PaddleX's semantic-segmentation protocol, a PNG upload endpoint, liveness, "
                                     "health, readiness and Prometheus metrics.",
                         responses={code: {"model": NoResultResponse} for code in ERROR_STATUSES})
    app.state.settings, app.state.metrics = settings, metrics
    app.state.service = ModelService(settings, metrics, loader)
    known_paths = {*(route.path for route in app.routes), *(route.path for route in router.routes)}  # docs', ours
    app.include_router(router)
    app.add_middleware(RequestLog, metrics=metrics, max_body=settings.max_body_bytes, known_paths=known_paths,
                       model_paths=MODEL_PATHS)
    app.add_exception_handler(RequestError, _refused)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal)
    return app


def create_app_from_environment():
    """``create_app`` with the settings ``paddleseg serve`` put in the environment (each worker's)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    return create_app(ServeSettings.from_environment())


@contextlib.asynccontextmanager
async def _lifespan(app):
    """The model loads in the background from the start (``/live`` answers meanwhile); at shutdown
    the queued requests are answered first."""
    app.state.service.start()
    yield
    app.state.service.stop()


async def _refused(request, error):
    return no_result(request.state.log_id, error.status, str(error))


async def _invalid(request, error):
    return no_result(request.state.log_id, 422, _validation_message(error))


async def _http_error(request, error):
    return no_result(request.state.log_id, error.status_code, str(error.detail))


async def _internal(request, error):
    LOG.error("logId=%s internal error in %s", request.state.log_id, request.url.path, exc_info=error)
    return no_result(request.state.log_id, 500,
                     f"internal error ({type(error).__name__}); the server log has it under this logId")


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
