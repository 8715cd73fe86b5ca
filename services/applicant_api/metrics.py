"""Prometheus metrics of the applicant API (served at ``GET /metrics``, every gunicorn worker's
samples together: :mod:`lendstream.services.prometheus_metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "lendstream_api_requests_total",
    "HTTP requests answered, by route and status code.",
    ["route", "status"],
)
LATENCY = Histogram(
    "lendstream_api_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
