"""PaddleX's semantic-segmentation protocol: its documented client gets what `paddleseg infer` writes."""
import base64
import time

import cv2
import numpy as np
import pytest
import requests
from PIL import Image

from paddleseg_liteseg.cli import main
from paddleseg_liteseg.deploy import ExportedModel
from paddleseg_liteseg.deploy.running.runtime_choice import choose_runtime
from paddleseg_liteseg.image_files import read_image
from paddleseg_liteseg.serving.paddlex_protocol import InferResult, ResultResponse, resized_for
from paddleseg_liteseg.serving.settings import ServeSettings
from serving.conftest import app_client, base64_of


def paddlex_client(url, image_path):
    """PaddleX's documented Python client, unchanged but for its URL and image path."""
    api_url = f"{url}/semantic-segmentation"
    with open(image_path, "rb") as file:
        image_bytes = file.read()
        image_data = base64.b64encode(image_bytes).decode("ascii")
    payload = {"image": image_data}
    response = requests.post(api_url, json=payload)
    assert response.status_code == 200
    return response.json()["result"]


@pytest.mark.slow
def test_paddlex_client_gets_the_label_map_infer_writes(start_server, exported, photo, tmp_path):
    assert main(["infer", "--model_dir", exported, "--image_path", photo, "--save_dir", str(tmp_path)]) == 0
    written = np.array(Image.open(tmp_path / "pseudo_color_prediction" / "grace_hopper.png"))  # palette indices
    server = start_server()
    server.wait_ready()

    result = paddlex_client(server.url, photo)

    height, width = result["size"]
    assert (height, width) == written.shape
    labels = np.array(result["labelMap"], dtype=np.uint8).reshape(height, width)
    np.testing.assert_array_equal(labels, written)
    overlay = cv2.imdecode(np.frombuffer(base64.b64decode(result["image"]), np.uint8), cv2.IMREAD_COLOR)
    assert overlay.shape == (height, width, 3)
    code, output = server.stop()
    assert code == 0
    choice = choose_runtime(ExportedModel.read(exported))  # infer's and the server's, on this CPU
    assert f"Serving {exported} on {choice.backend} {choice.precision}" in output and f"at {server.url}" in output


@pytest.mark.slow
def test_paddlex_client_that_waits_for_health_and_posts_at_once_gets_200(start_server, photo):
    """PaddleX builds its pipeline before its app starts, so its clients take /health's 200 as "send
    now": polled from the server's start, the first 200 of /health lets the next request through."""
    server = start_server("--max_batch_size", "1")
    deadline, health = time.monotonic() + 180, None
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            health = requests.get(f"{server.url}/health", timeout=5)
        except requests.ConnectionError:  # not listening yet
            health = None
        if health is not None and health.status_code == 200:
            break
        if health is not None:
            assert health.status_code == 503 and health.json()["errorCode"] == 503, health.text
        time.sleep(0.05)
    assert health is not None and health.status_code == 200, server.stop()[1]
    assert (health.json()["errorCode"], health.json()["errorMsg"]) == (0, "Healthy")

    result = paddlex_client(server.url, photo)

    labels = np.array(result["labelMap"], dtype=np.uint8).reshape(result["size"])
    assert labels.shape == cv2.imread(photo).shape[:2]
    assert server.stop()[0] == 0


def assert_paddlex_error(response, status, words):
    """``response`` is PaddleX's error: the HTTP status, ``{"logId", "errorCode": status, "errorMsg"}``."""
    body = response.json()
    assert response.status_code == status and set(body) == {"logId", "errorCode", "errorMsg"}, response.text
    assert body["errorCode"] == status and body["logId"] and words in body["errorMsg"], response.text


@pytest.fixture(scope="module")
def client(exported):
    with app_client(ServeSettings(model_dir=exported, backend="onnxruntime", precision="fp32",
                                  max_batch_size=1)) as client:
        yield client


@pytest.fixture(scope="module")
def predictor(exported):
    from paddleseg_liteseg.predictor import Predictor
    return Predictor(exported, backend="onnxruntime", precision="fp32")


def infer(client, image, **fields):
    response = client.post("/semantic-segmentation", json={"image": image, **fields})
    assert response.status_code == 200, response.text
    body = response.json()
    ResultResponse[InferResult].model_validate(body)  # what the endpoint declares in OpenAPI
    assert body["errorCode"] == 0 and body["errorMsg"] == "Success" and len(body["logId"]) == 36
    height, width = body["result"]["size"]
    return np.array(body["result"]["labelMap"], dtype=np.uint8).reshape(height, width), body["result"]


def test_target_size_resizes_as_paddlex_and_answers_at_the_image_size(client, predictor, photo):
    image = read_image(photo)
    original, _ = infer(client, base64_of(photo))
    same, _ = infer(client, base64_of(photo), targetSize=-1)
    np.testing.assert_array_equal(same, original)
    for target, model_size in ((256, (256, 224)), ([300, 200], (256, 224)), ([640, 1000], (768, 640))):
        labels, _ = infer(client, base64_of(photo), targetSize=target)
        assert labels.shape == image.shape[:2]
        resized = resized_for(image, target)
        assert resized.shape[:2] == model_size  # fits the target, keeps the ratio, sides a multiple of 32
        expected = cv2.resize(predictor.predict(resized), image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        np.testing.assert_array_equal(labels, expected)


@pytest.mark.parametrize("target", [0, [256], [256, 0, 3], "256", 2.5, True])
def test_a_bad_target_size_is_refused_by_name(client, photo, target):
    response = client.post("/semantic-segmentation", json={"image": base64_of(photo), "targetSize": target})
    assert response.status_code == 422
    assert response.json()["errorCode"] == 422 and "targetSize" in response.json()["errorMsg"]


def test_visualize_follows_the_request_else_the_server_default(client, photo):
    _, shown = infer(client, base64_of(photo))
    _, hidden = infer(client, base64_of(photo), visualize=False)
    assert shown["image"] and hidden["image"] is None


def test_liveness_health_and_readiness_once_loaded(client):
    live, health = client.get("/live"), client.get("/health")
    assert live.status_code == 200 and (live.json()["errorCode"], live.json()["errorMsg"]) == (0, "Alive")
    assert health.status_code == 200 and set(health.json()) == {"logId", "errorCode", "errorMsg"}
    assert (health.json()["errorCode"], health.json()["errorMsg"]) == (0, "Healthy")
    ready = client.get("/ready").json()["result"]
    assert (ready["backend"], ready["precision"]) == ("onnxruntime", "fp32")
    assert ready["batching"].startswith("off") and ready["classNames"]


def test_health_and_readiness_wait_for_the_model_and_liveness_does_not(exported):
    """/health and /ready answer 503 (PaddleX's error) while the model loads and 200 after; /live
    answers 200 all along; inference is refused meanwhile."""
    import threading

    from fastapi.testclient import TestClient

    from paddleseg_liteseg.serving.app import create_app
    from paddleseg_liteseg.serving.model_service import load_predictor

    release = threading.Event()

    def slow_loader(settings):
        release.wait(60)
        return load_predictor(settings)

    settings = ServeSettings(model_dir=exported, backend="onnxruntime", max_batch_size=1)
    with TestClient(create_app(settings, loader=slow_loader)) as client:
        assert client.get("/live").status_code == 200
        assert_paddlex_error(client.get("/health"), 503, "the model is still loading")
        assert_paddlex_error(client.get("/ready"), 503, "the model is still loading")
        refused = client.post("/semantic-segmentation", json={"image": "aGVsbG8="})
        assert_paddlex_error(refused, 503, "retry when GET /health")
        release.set()
        from serving.conftest import wait_ready
        wait_ready(lambda: client.get("/health"))
        assert client.get("/ready").status_code == 200 and client.get("/live").status_code == 200


def test_a_model_that_fails_to_load_says_why(tmp_path):
    from fastapi.testclient import TestClient

    from paddleseg_liteseg.serving.app import create_app

    (tmp_path / "deploy.yaml").write_text("Deploy: {model: model.json, params: model.pdiparams, transforms: []}\n")
    with TestClient(create_app(ServeSettings(model_dir=str(tmp_path)))) as client:
        from serving.conftest import wait_ready
        with pytest.raises(AssertionError, match="failed to load"):
            wait_ready(lambda: client.get("/ready"), timeout=60)
        assert_paddlex_error(client.get("/ready"), 503, "the model failed to load: ")
        assert_paddlex_error(client.get("/health"), 503, "the model failed to load: ")
        assert client.get("/live").status_code == 200
