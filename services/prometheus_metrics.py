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


def record_requests(app: Flask, requests: Counter, latency: Histogram) -> None:
    """Count every answer by route and status, and time it by route; serve ``GET /metrics``.

    The route is the URL rule (``/v1/applicants/<applicant_id>``), never the raw path, so the
    number of series stays bounded whatever clients ask for.
    """

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
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
