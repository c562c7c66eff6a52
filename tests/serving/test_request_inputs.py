"""Every bad input gets a 4xx that says what is wrong, and the next good request is still answered right;
images of every kind `paddleseg infer` reads are served as it reads them."""
import base64
import http.server
import json
import struct
import threading
import zlib

import cv2
import numpy as np
import pytest

from paddleseg_liteseg.image_files import read_image
from paddleseg_liteseg.serving.settings import ServeSettings
from serving.conftest import app_client, base64_of


def png_claiming(width, height):
    """A few-kB PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = zlib.compress(b"\x00" * (width + 1) * 16, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def client(exported):
    settings = ServeSettings(model_dir=exported, backend="onnxruntime", precision="fp32", max_batch_size=1,
                             max_body_mb=2, allow_url_hosts=("127.0.0.1",), url_timeout_s=5)
    with app_client(settings) as client:
        yield client


@pytest.fixture(scope="module")
def predictor(exported):
    from paddleseg_liteseg.predictor import Predictor
    return Predictor(exported, backend="onnxruntime", precision="fp32")


@pytest.fixture(scope="module")
def small_photo(photo, tmp_path_factory):
    """The photo at a quarter of its size, as a PNG (so requests stay quick)."""
    path = tmp_path_factory.mktemp("photo") / "small.png"
    image = cv2.imread(photo)
    cv2.imwrite(str(path), cv2.resize(image, (image.shape[1] // 4, image.shape[0] // 4)))
    return str(path)


def encoded(image, suffix=".png"):
    return base64.b64encode(cv2.imencode(suffix, image)[1].tobytes()).decode("ascii")


def truncated_jpeg(path):
    data = cv2.imencode(".jpg", cv2.imread(path))[1].tobytes()
    return base64.b64encode(data[:len(data) // 2]).decode("ascii")


BAD_REQUESTS = {
    "not JSON": (dict(content=b"{image: nope", headers={"Content-Type": "application/json"}), 422,
                 "not valid JSON"),
    "empty body": (dict(content=b"", headers={"Content-Type": "application/json"}), 422, "the body is empty"),
    "a JSON list": (dict(json=[1, 2]), 422, "JSON object"),
    "image missing": (dict(json={"targetSize": -1}), 422, "image: missing"),
    "image a number": (dict(json={"image": 5}), 422, "image"),
    "not Base64": (dict(json={"image": "this is not base64!"}), 422, "not Base64"),
    "not an image": (dict(json={"image": base64.b64encode(b"plain text, no picture").decode()}), 422,
                     "not an image"),
    "empty image": (dict(json={"image": ""}), 422, "image: empty"),
    "decompression bomb": (dict(json={"image": base64.b64encode(png_claiming(50000, 50000)).decode()}), 413,
                           "--max_megapixels"),
    "over the pixel limit": (dict(json={"image": base64.b64encode(png_claiming(8000, 6000)).decode()}), 413,
                             "8000 x 6000 pixels is over the server's limit of 40 megapixels"),
    "body over the limit": (dict(json={"image": "A" * 2_100_000}), 413, "limit of 2 MB (`--max_body_mb`"),
    "URL of a host not allowed": (dict(json={"image": "http://169.254.169.254/latest/meta-data"}), 403,
                                  "'169.254.169.254' is not allowed"),
}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_a_bad_request_gets_a_clear_4xx_and_the_server_keeps_serving(client, predictor, small_photo, name):
    request, status, message = BAD_REQUESTS[name]
    response = client.post("/semantic-segmentation", **request)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errorCode"] == status and message in body["errorMsg"] and len(body["logId"]) == 36

    good = client.post("/semantic-segmentation", json={"image": base64_of(small_photo), "visualize": False})
    labels = np.array(good.json()["result"]["labelMap"], dtype=np.uint8).reshape(good.json()["result"]["size"])
    np.testing.assert_array_equal(labels, predictor.predict(read_image(small_photo)))


def test_a_truncated_jpeg_is_refused(client, small_photo):
    response = client.post("/semantic-segmentation", json={"image": truncated_jpeg(small_photo)})
    assert response.status_code == 422 and "truncated JPEG" in response.json()["errorMsg"]


def image_kinds(small_photo):
    bgr = cv2.imread(small_photo)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    rgba = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    rgba[:, :, 3] = 128
    return {"1x1": bgr[:1, :1], "grayscale": gray, "RGBA": rgba, "16-bit": bgr.astype(np.uint16) * 257}


@pytest.mark.parametrize("kind", ["1x1", "grayscale", "RGBA", "16-bit"])
def test_images_are_served_as_infer_reads_them(client, predictor, small_photo, tmp_path, kind):
    path = tmp_path / f"{kind}.png"
    cv2.imwrite(str(path), image_kinds(small_photo)[kind])
    labels, size = _labels(client.post("/semantic-segmentation", json={"image": base64_of(path)}))
    expected = predictor.predict(read_image(str(path)))
    assert size == list(expected.shape)
    np.testing.assert_array_equal(labels, expected)


def _labels(response):
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    return np.array(result["labelMap"], dtype=np.uint8).reshape(result["size"]), result["size"]


class _Files(http.server.BaseHTTPRequestHandler):
    """Serves /photo, /redirect (to /photo) and /large (over the body limit) on 127.0.0.1."""
    photo = b""

    def do_GET(self):
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/photo")
            self.end_headers()
            return
        body = self.photo if self.path == "/photo" else b"x" * 3_000_000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def file_server(small_photo):
    _Files.photo = open(small_photo, "rb").read()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_urls_of_allowed_hosts_are_fetched_within_limits(client, predictor, file_server, small_photo):
    labels, _ = _labels(client.post("/semantic-segmentation", json={"image": f"{file_server}/photo"}))
    np.testing.assert_array_equal(labels, predictor.predict(read_image(small_photo)))
    redirect = client.post("/semantic-segmentation", json={"image": f"{file_server}/redirect"})
    assert redirect.status_code == 422 and "redirects are not followed" in redirect.json()["errorMsg"]
    large = client.post("/semantic-segmentation", json={"image": f"{file_server}/large"})
    assert large.status_code == 413 and "--max_body_mb" in large.json()["errorMsg"]
    other_host = client.post("/semantic-segmentation", json={"image": file_server.replace("127.0.0.1", "localhost")})
    assert other_host.status_code == 403 and "--allow_url_hosts localhost" in other_host.json()["errorMsg"]


def test_upload_answers_a_png_of_class_ids_with_classes_backend_and_time(client, predictor, small_photo):
    with open(small_photo, "rb") as file:
        response = client.post("/segment", files={"file": ("small.png", file, "image/png")})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    labels = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_UNCHANGED)
    expected = predictor.predict(read_image(small_photo))
    assert labels.ndim == 2
    np.testing.assert_array_equal(labels, expected)
    classes = json.loads(response.headers["x-classes"])
    counts = np.bincount(expected.ravel())
    assert {entry["id"]: entry["share"] for entry in classes} == pytest.approx(abs=1e-6, expected=
        {class_id: count / expected.size for class_id, count in enumerate(counts) if count})
    assert all(entry["name"] == predictor.class_names[entry["id"]] for entry in classes)
    assert response.headers["x-backend"] == "onnxruntime" and float(response.headers["x-model-time-ms"]) > 0


def test_upload_answers_json_on_request(client, predictor, small_photo):
    with open(small_photo, "rb") as file:
        response = client.post("/segment?format=json&visualize=true", files={"file": ("small.png", file)})
    result = response.json()["result"]
    labels = cv2.imdecode(np.frombuffer(base64.b64decode(result["labelMapPng"]), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(labels, predictor.predict(read_image(small_photo)))
    assert result["image"] and sum(entry["share"] for entry in result["classes"]) == pytest.approx(1, abs=1e-5)  # each rounded to 1e-6
    assert result["modelTimeMs"] > 0 and result["batchSize"] == 1


@pytest.mark.parametrize("request_kwargs, message", [
    (dict(data={"other": "x"}, files={"not_file": ("a.png", b"x")}), "file: missing"),
    (dict(json={"image": "x"}), "multipart/form-data"),
    (dict(files={"file": ("notes.png", b"not a picture")}), "notes.png: not an image"),
])
def test_bad_uploads_are_refused_by_name(client, request_kwargs, message):
    response = client.post("/segment", **request_kwargs)
    assert response.status_code == 422 and message in response.json()["errorMsg"]


def test_uploads_are_never_spooled_to_disk_nor_logged(client, monkeypatch, caplog):
    """A 1.9 MB upload stays in memory (Starlette would spool it to a temporary file) and the log has
    its size, not its content."""
    import tempfile

    def no_disk(self):
        raise AssertionError("the upload was written to a temporary file")

    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", no_disk)
    noise = np.random.default_rng(0).integers(0, 256, (800, 800, 3), dtype=np.uint8)
    data = cv2.imencode(".png", noise)[1].tobytes()
    assert 1_500_000 < len(data) < 2_000_000  # over Starlette's spooling threshold, under the body limit
    with caplog.at_level("INFO", logger="paddleseg_liteseg.serving"):
        response = client.post("/segment", files={"file": ("noise.png", data)})
    assert response.status_code == 200, response.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "bytes in" in logged and base64.b64encode(data[1000:1100]).decode() not in logged


def test_api_key_is_required_when_set(exported, small_photo):
    settings = ServeSettings(model_dir=exported, backend="onnxruntime", max_batch_size=1, api_key="s3cret")
    with app_client(settings) as client:
        payload = {"image": base64_of(small_photo), "visualize": False}
        for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer nope"}):
            response = client.post("/semantic-segmentation", json=payload, headers=headers)
            assert response.status_code == 401 and "API key" in response.json()["errorMsg"]
        assert client.post("/semantic-segmentation", json=payload, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert client.post("/semantic-segmentation", json=payload,
                           headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/").status_code == 200 and client.get("/ready").json()["result"]["apiKeyRequired"]
        assert client.get("/live").status_code == 200 and client.get("/health").status_code == 200  # probes: no key


def test_metrics_count_requests_errors_batches_and_latency(client, small_photo):
    client.post("/semantic-segmentation", json={"image": base64_of(small_photo), "visualize": False})
    client.post("/semantic-segmentation", json={"image": "not base64!"})
    text = client.get("/metrics").text
    ok = _sample(text, 'paddleseg_requests_total{endpoint="/semantic-segmentation",status="200"}')
    refused = _sample(text, 'paddleseg_requests_total{endpoint="/semantic-segmentation",status="422"}')
    assert ok >= 1 and refused >= 1
    assert _sample(text, "paddleseg_batch_size_count") >= 1
    assert _sample(text, 'paddleseg_request_seconds_count{endpoint="/semantic-segmentation"}') >= ok + refused
    assert _sample(text, "paddleseg_images_in_flight") == 0
    assert _sample(text, "paddleseg_model_seconds_per_image_count") >= 1


def _sample(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} is not in the metrics:\n{text}")


def test_openapi_page_and_schema_are_served_offline(client):
    schema = client.get("/openapi.json").json()
    assert {"/semantic-segmentation", "/segment", "/live", "/health", "/ready", "/metrics"} <= set(schema["paths"])
    docs = client.get("/docs").text
    assert "swagger" in docs.lower() and "cdn.jsdelivr" not in docs
    assert client.get("/not-here").json()["errorCode"] == 404
