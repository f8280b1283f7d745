"""What ``GET /metrics`` shows, in Prometheus's text format (prometheus-client, part of the
``serve`` extra). Each app has its own registry, so two apps in one process count apart.

- ``rnnlab_http_requests_total{route, method, status}``: answered requests (refusals by the
  API-key and size checks included). ``route`` is the endpoint's path, or ``unmatched`` for a
  path the app does not have (so random paths cannot make unbounded label sets).
- ``rnnlab_http_request_duration_seconds{route, method, status}``: a histogram of the time from
  the request's arrival to the end of its response.
- ``rnnlab_batch_size``: a histogram of texts per model call of the micro-batcher.
- ``rnnlab_batch_queue_wait_seconds``: a histogram of how long a request's texts waited in the
  batcher's queue before their model call began.
- ``rnnlab_model_load_seconds``: seconds to load the run and score the first text.
- ``rnnlab_ready``: 1 once the warm-up is done (``GET /v1/ready`` answers 200), else 0.
- ``rnnlab_explain_texts_total``: texts explained by ``POST /v1/explain``.

With ``$PROMETHEUS_MULTIPROC_DIR`` set (``rnnlab serve --workers N`` sets it for its workers),
prometheus-client keeps the values in files there and ``GET /metrics`` sums every process's
(:class:`~prometheus_client.multiprocess.MultiProcessCollector`); ``rnnlab_ready`` is then the
least of the live processes' values and ``rnnlab_model_load_seconds`` the largest.
"""

from __future__ import annotations

import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
WAIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
UNMATCHED = "unmatched"


class ServeMetrics:
    """The metrics of one app and the ASGI middleware that counts its requests."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("route", "method", "status")
        self.requests = Counter("rnnlab_http_requests", "Answered HTTP requests.", labels, registry=self.registry)
        self.latency = Histogram("rnnlab_http_request_duration_seconds", "Time from a request's arrival to the end "
                                 "of its response.", labels, buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("rnnlab_batch_size", "Texts per model call of the micro-batcher.",
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.queue_wait = Histogram("rnnlab_batch_queue_wait_seconds", "How long a request's texts waited in the "
                                    "batcher's queue before their model call.", buckets=WAIT_BUCKETS,
                                    registry=self.registry)
        self.load_seconds = Gauge("rnnlab_model_load_seconds", "Seconds to load the run and score a first text.",
                                  registry=self.registry, multiprocess_mode="livemax")
        self.ready = Gauge("rnnlab_ready", "1 once the model is loaded and warmed up.", registry=self.registry,
                           multiprocess_mode="livemin")
        self.explained = Counter("rnnlab_explain_texts", "Texts explained by POST /v1/explain.",
                                 registry=self.registry)
        self.routes: frozenset[str] = frozenset()
        # (route, method, status) -> (counter child, histogram child): ``labels()`` looks the
        # child up under a lock on every call; the keys are bounded (routes x methods x statuses)
        self._children: dict[tuple[str, str, int], tuple] = {}

    def observe_batch(self, size: int, waits: list[float]) -> None:
        """One model call of the batcher: its texts and each request's queue wait."""
        self.batch_size.observe(size)
        for w in waits:
            self.queue_wait.observe(w)

    def exposition(self) -> bytes:
        """The text ``GET /metrics`` answers: this app's registry, or with
        ``$PROMETHEUS_MULTIPROC_DIR`` set the sum over every process writing there."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)

    def middleware(self, app):
        """The ASGI middleware counting every HTTP request of ``app`` (put it outermost)."""
        metrics = self

        async def counted(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            start = time.perf_counter()
            status = {"code": 500}

            async def sending(message):
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                await send(message)

            try:
                await app(scope, receive, sending)
            finally:
                route = scope["path"] if scope["path"] in metrics.routes else UNMATCHED
                key = (route, scope["method"], status["code"])
                children = metrics._children.get(key)
                if children is None:
                    labels = (route, scope["method"], str(status["code"]))
                    children = metrics._children[key] = (metrics.requests.labels(*labels),
                                                         metrics.latency.labels(*labels))
                children[0].inc()
                children[1].observe(time.perf_counter() - start)

        return counted
