"""`paddleseg serve` as a process: shutdown on SIGTERM, workers replaced when killed, a bounded load run."""
import base64
import threading
import time

import cv2
import numpy as np
import psutil
import pytest
import requests

pytestmark = pytest.mark.slow


def payload_of(photo, scale):
    image = cv2.imread(photo)
    image = cv2.resize(image, None, fx=scale, fy=scale)
    return {"image": base64.b64encode(cv2.imencode(".png", image)[1].tobytes()).decode(), "visualize": False}


def test_sigterm_answers_the_requests_in_flight_refuses_new_ones_and_exits_0(start_server, photo):
    server = start_server("--max_batch_size", "1", "--cpu_threads", "1")
    server.wait_ready()
    payload, answers = payload_of(photo, 2.0), []

    def ask():
        answers.append(requests.post(f"{server.url}/semantic-segmentation", json=payload, timeout=120).status_code)

    clients = [threading.Thread(target=ask) for _ in range(4)]
    for client in clients:
        client.start()
    deadline = time.monotonic() + 30
    while _metric(server.url, "paddleseg_images_in_flight") < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.process.send_signal(15)
    time.sleep(0.5)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/live", timeout=5)
    for client in clients:
        client.join(120)
    code, output = server.stop(send_sigterm=False)
    assert answers == [200] * 4
    assert code == 0, output
    assert "Stopped on SIGTERM, after the requests in flight were answered" in output


def _metric(url, name):
    for line in requests.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return 0.0


def test_a_killed_worker_is_replaced_and_the_server_keeps_answering(start_server, photo):
    server = start_server("--workers", "2", "--max_batch_size", "1")
    server.wait_ready()
    workers = _workers(server.process.pid)
    assert len(workers) == 2
    _wait_all_workers_ready(server.url)
    payload = payload_of(photo, 0.5)
    workers[0].kill()
    answered = [requests.post(f"{server.url}/semantic-segmentation", json=payload, timeout=60).status_code
                for _ in range(6)]
    assert answered == [200] * 6
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (workers[0].pid in [w.pid for w in _workers(server.process.pid)]
                                           or len(_workers(server.process.pid)) < 2):
        time.sleep(0.5)
    replacement = [worker for worker in _workers(server.process.pid) if worker.pid != workers[1].pid]
    assert len(replacement) == 1 and replacement[0].pid != workers[0].pid
    _wait_all_workers_ready(server.url)
    assert requests.post(f"{server.url}/semantic-segmentation", json=payload, timeout=60).status_code == 200
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    assert 'paddleseg_requests_total{endpoint="/semantic-segmentation",status="200"}' in text
    code, output = server.stop()
    assert code == 0, output


def _workers(pid):
    """The server's live worker processes (uvicorn spawns them; the resource tracker is not one)."""
    workers = []
    for child in psutil.Process(pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                workers.append(child)
        except psutil.Error:  # it exited meanwhile
            pass
    return workers


def _wait_all_workers_ready(url, tries=40):
    """Readiness through several connections, so each worker (it is the kernel's pick) has answered."""
    ready = 0
    for _ in range(tries * 4):
        with requests.Session() as session:
            ready = ready + 1 if session.get(f"{url}/ready", timeout=5).status_code == 200 else 0
        if ready >= 12:
            return
        time.sleep(0.25)
    raise AssertionError("not every worker became ready")


def test_a_bounded_load_run_has_no_errors_and_flat_memory(start_server, photo):
    """16 concurrent clients for 20 s (benchmarks/serve_throughput.py runs 60 s): zero errors, p50 and p99
    printed, and the server's memory no higher in the last quarter of the run than in the first. A
    first, shorter run warms the server up: OpenVINO compiles the model once per batch size, on the
    first batch of that size, which a loaded server meets at random times."""
    from load_run import load_run  # benchmarks/load_run.py (serving/conftest.py)

    server = start_server("--max_batch_size", "4")
    server.wait_ready()
    load_run(f"{server.url}/semantic-segmentation", [payload_of(photo, 0.5)], clients=16, seconds=5,
             process=psutil.Process(server.process.pid))
    report = load_run(f"{server.url}/semantic-segmentation", [payload_of(photo, 0.5)], clients=16, seconds=20,
                      process=psutil.Process(server.process.pid))
    print(f"load run: {report.requests} requests, {report.errors} errors, p50 {report.p50_ms:.0f} ms, "
          f"p99 {report.p99_ms:.0f} ms, server RSS {report.first_quarter_mb:.0f} -> {report.last_quarter_mb:.0f} MB")
    assert report.errors == 0 and report.requests >= 16
    assert report.last_quarter_mb <= report.first_quarter_mb * 1.1 + 20
    code, _ = server.stop()
    assert code == 0


def test_concurrent_requests_run_as_batches_with_the_labels_of_single_runs(start_server, exported, photo):
    from concurrent.futures import ThreadPoolExecutor

    from paddleseg_liteseg.image_files import decode_image
    from paddleseg_liteseg.predictor import Predictor

    server = start_server("--max_batch_size", "4", "--batch_timeout_ms", "200", "--cpu_threads", "1")
    server.wait_ready()
    payloads = [payload_of(photo, scale) for scale in (0.5, 0.55, 0.5, 0.55, 0.5, 0.55, 0.5, 0.55)]

    def ask(payload):
        response = requests.post(f"{server.url}/semantic-segmentation", json=payload, timeout=120)
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        return np.array(result["labelMap"], dtype=np.uint8).reshape(result["size"])

    with ThreadPoolExecutor(8) as pool:
        served = list(pool.map(ask, payloads))
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    batches = _metric_line(text, "paddleseg_batch_size_count")
    alone = _metric_line(text, 'paddleseg_batch_size_bucket{le="1.0"}')
    assert batches - alone >= 1, text  # some batches held more than one image
    predictor = Predictor(exported, backend="onnxruntime", precision="fp32")
    for payload, labels in zip(payloads, served):
        expected = predictor.predict(decode_image(base64.b64decode(payload["image"]), "photo"))
        assert (labels == expected).mean() > 0.999  # a batch may sum in another order than a single run
    assert server.stop()[0] == 0


def _metric_line(text, name):
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))
