"""What every request goes through before its endpoint: a logId, the body limit, the metrics and one
log line, which holds the logId, endpoint, status, body size and time, and nothing a request sends."""
import logging
import time

from starlette.exceptions import HTTPException as StarletteHTTPException

from .paddlex_protocol import new_log_id
from .responses import no_result

LOG = logging.getLogger("paddleseg_liteseg.serving")


class BodyTooLarge(StarletteHTTPException):
    """Raised while the body is read, so FastAPI hands it on as the 413 it is."""


class RequestLog:
    """ASGI middleware: gives each request its logId (``request.state.log_id``), refuses bodies over
    the limit (413), counts requests, errors and latency by endpoint, and logs one line for each
    model request and each error.

    Args:
        metrics (ServerMetrics): Where requests, latency and images in flight are counted.
        max_body (int): The largest body accepted, in bytes.
        known_paths (collection[str]): Paths counted under their own name; any other is "other".
        model_paths (collection[str]): Paths that run the model: counted in flight, each one logged.
    """

    def __init__(self, app, metrics, max_body, known_paths, model_paths):
        self.app, self.metrics, self.max_body = app, metrics, max_body
        self.known_paths, self.model_paths = known_paths, model_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, path, log_id = time.perf_counter(), scope["path"], new_log_id()
        scope.setdefault("state", {})["log_id"] = log_id
        status, received = [500], [0]
        endpoint = path if path in self.known_paths else "other"
        declared = dict(scope["headers"]).get(b"content-length")
        refuse = f"the request body is over the server's limit of {self.max_body / 1e6:g} MB (`--max_body_mb` raises it)"

        async def limited_receive():
            message = await receive()
            received[0] += len(message.get("body", b""))
            if received[0] > self.max_body:
                raise BodyTooLarge(413, refuse)
            return message

        async def recording_send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        in_flight = endpoint in self.model_paths
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
