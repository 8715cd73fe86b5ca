"""Prometheus exposition for the services, correct under several gunicorn workers.

Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` is set by the service's gunicorn configuration
(:mod:`lendstream.services.gunicorn_metrics`) before anything imports prometheus_client: each
worker writes its samples to files there and :func:`exposition` aggregates them, so every scrape
sees all workers.
Without it (one process: the producer, the Flask test client) the default registry is used.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from lendstream.services.gunicorn_metrics import MULTIPROC_DIR_VARIABLE


def exposition() -> tuple[bytes, str]:
    """The metrics text of every worker (or of this process) and its content type."""
    if os.environ.get(MULTIPROC_DIR_VARIABLE):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def request_metrics(prefix: str) -> tuple[Counter, Histogram]:
    """A service's request counter and latency histogram for :func:`record_requests`:
    ``<prefix>_requests_total`` by route and status, ``<prefix>_request_duration_seconds`` by
    route. Call once per service, at import of its metrics module."""
    requests = Counter(
        f"{prefix}_requests_total",
        "HTTP requests answered, by route and status code.",
        ["route", "status"],
    )
    latency = Histogram(
        f"{prefix}_request_duration_seconds",
        "Time to answer an HTTP request, by route.",
        ["route"],
        buckets=LATENCY_BUCKETS,
    )
    return requests, latency


def record_requests(
    app: Flask, requests: Counter, latency: Histogram, probes: Counter | None = None
) -> None:
    """Count every answer by route and status, and time it by route; serve ``GET /metrics``.

    The route is the URL rule (``/v1/applicants/<applicant_id>``), never the raw path, so the
    number of series stays bounded whatever clients ask for. A request the app marked as a probe
    (``g.probe`` true) is counted in ``probes`` by status instead, and not timed.
    """

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        if probes is not None and g.get("probe", False):
            probes.labels(status=str(response.status_code)).inc()
            return response
        route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        requests.labels(route=route, status=str(response.status_code)).inc()
        started = g.get("started")
        if started is not None:
            latency.labels(route=route).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        payload, content_type = exposition()
        return Response(payload, content_type=content_type)
