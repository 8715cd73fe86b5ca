"""Prometheus metrics of the risk service, correct under several gunicorn workers.

Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` is set (see :mod:`.gunicorn_conf`): each worker writes
its samples to files there and ``/metrics`` aggregates them, so every scrape sees all workers.
Without it (a single process, e.g. the Flask test client) the default registry is used.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

REQUESTS = Counter(
    "lendstream_risk_requests_total",
    "HTTP requests answered, by route and status code.",
    ["route", "status"],
)
LATENCY = Histogram(
    "lendstream_risk_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
SCORED = Counter(
    "lendstream_risk_scored_applicants_total",
    "Applicants scored, by decision.",
    ["decision"],
)
BATCH_SIZE = Histogram(
    "lendstream_risk_batch_size",
    "Applicants per scoring request.",
    buckets=(1, 10, 50, 100, 250, 500, 1000),
)
MODEL_LOADED = Gauge(
    "lendstream_risk_model_loaded",
    "1 when the worker has loaded this model version.",
    ["version"],
    multiprocess_mode="max",
)


def exposition() -> tuple[bytes, str]:
    """The metrics text of every worker (or of this process) and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
