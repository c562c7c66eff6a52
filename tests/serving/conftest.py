"""A real photo, in-process apps and server processes of the toy-trained T's export (tests/conftest.py),
and benchmarks/ on the import path for its load client (``load_run``), which the load test shares
with benchmarks/serve_throughput.py."""
import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benchmarks"))


@pytest.fixture(scope="session")
def photo():
    """A real photo (JPEG, 512x600) that matplotlib ships: what the PaddleX client and the page upload."""
    from matplotlib import cbook
    return str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def base64_of(path):
    with open(path, "rb") as file:
        return base64.b64encode(file.read()).decode("ascii")


def app_client(settings):
    """A TestClient of ``create_app(settings)``, its model loaded (enter it with ``with``)."""
    from fastapi.testclient import TestClient

    from paddleseg_liteseg.serving.app import create_app

    client = TestClient(create_app(settings), raise_server_exceptions=False)
    return _ReadyClient(client)


class _ReadyClient:
    def __init__(self, client):
        self.client = client

    def __enter__(self):
        self.client.__enter__()
        wait_ready(lambda: self.client.get("/ready"))
        return self.client

    def __exit__(self, *exc):
        return self.client.__exit__(*exc)


def wait_ready(get_ready, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = get_ready()
            if response.status_code == 200:
                return response.json()
            if "failed to load" in response.text:
                raise AssertionError(response.text)
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server was not ready within {timeout} s")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``paddleseg serve`` in a process of its own on 127.0.0.1 and a free port; its output goes to a
    file (a pipe nobody reads fills up and blocks the server's logging)."""

    def __init__(self, model_dir, *flags, env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "paddleseg_liteseg", "serve", "--model_dir", model_dir,
                   "--port", str(self.port), *flags]
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                        env={**os.environ, **(env or {})}, start_new_session=True)

    def wait_ready(self, timeout=180):
        return wait_ready(lambda: requests.get(f"{self.url}/ready", timeout=5), timeout)

    def stop(self, send_sigterm=True):
        """SIGTERM (unless it was sent already), then the exit code and everything it printed."""
        if send_sigterm and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.seek(0)
        return self.process.returncode, self.log.read()


@pytest.fixture
def start_server(exported):
    """Starts ``paddleseg serve`` processes on the served model; each is stopped after the test."""
    started = []

    def start(*flags, env=None):
        server = ServerProcess(exported, *flags, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
