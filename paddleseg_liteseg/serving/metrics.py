"""Prometheus metrics of a server: requests and errors by endpoint and status, latency, batch sizes,
model time and images in flight, through ``prometheus_client``.

With ``--workers N`` the workers are separate processes; ``paddleseg serve`` then sets
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds up every worker's numbers (prometheus_client's
multiprocess mode), so a scrape that reaches any worker sees the whole server.
"""
import os

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


class ServerMetrics:
    """The metrics one server process records."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("paddleseg_requests", "HTTP requests by endpoint and status",
                                ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("paddleseg_request_seconds", "Request latency by endpoint (seconds)",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("paddleseg_batch_size", "Images per model run",
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.model_seconds = Histogram("paddleseg_model_seconds_per_image", "Model time per image (seconds)",
                                       buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("paddleseg_images_in_flight", "Images received and not yet answered",
                               registry=self.registry, multiprocess_mode="livesum")

    def exposition(self):
        """(body, content type) of a scrape: this process's metrics, or every worker's."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
