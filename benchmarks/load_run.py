"""A bounded load run against a server: N concurrent clients for a fixed time, on 127.0.0.1 or any
address you own; latency percentiles, throughput, errors, and the server's memory over the run.

A client, not part of the server: serve_throughput.py runs it, and so does the load test
(tests/serving/test_server_process.py)."""
import asyncio
import dataclasses
import json
import statistics
import time


@dataclasses.dataclass
class LoadReport:
    """What a load run measured; memory is the server's resident set, first and last quarter of the run."""

    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    first_quarter_mb: float = float("nan")
    last_quarter_mb: float = float("nan")
    error_samples: list = dataclasses.field(default_factory=list)

    @property
    def images_per_s(self):
        return self.requests / self.seconds


def load_run(url, payloads, clients, seconds, process=None, headers=None, memory_every_s=0.5):
    """POST ``payloads`` (JSON objects, each client going through them in turn from its own start)
    to ``url`` from ``clients`` concurrent clients for ``seconds``.

    Args:
        process (psutil.Process, optional): The server, whose memory is sampled during the run.
    """
    bodies = [json.dumps(payload).encode() for payload in payloads]
    return asyncio.run(_run(url, bodies, clients, seconds, process, headers or {}, memory_every_s))


async def _run(url, bodies, clients, seconds, process, headers, memory_every_s):
    import httpx

    latencies, errors, memory = [], [], []
    deadline = time.monotonic() + seconds
    headers = {"Content-Type": "application/json", **headers}

    async def client(session, first):
        sent = first
        while time.monotonic() < deadline:
            start = time.perf_counter()
            sent += 1
            try:
                response = await session.post(url, content=bodies[sent % len(bodies)], headers=headers)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
            except httpx.HTTPError as error:
                errors.append(f"{type(error).__name__}: {error}")

    async def sample_memory():
        while time.monotonic() < deadline:
            memory.append(process.memory_info().rss / 2 ** 20)
            await asyncio.sleep(memory_every_s)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=120, limits=limits) as session:
        tasks = [client(session, first) for first in range(clients)] + ([sample_memory()] if process else [])
        await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    quarter = max(1, len(memory) // 4)
    milliseconds = sorted(1000 * latency for latency in latencies) or [float("nan")]
    return LoadReport(clients=clients, requests=len(latencies), errors=len(errors), seconds=elapsed,
                      p50_ms=statistics.median(milliseconds),
                      p99_ms=milliseconds[min(len(milliseconds) - 1, int(0.99 * len(milliseconds)))],
                      first_quarter_mb=statistics.mean(memory[:quarter]) if memory else float("nan"),
                      last_quarter_mb=statistics.mean(memory[-quarter:]) if memory else float("nan"),
                      error_samples=errors[:5])
