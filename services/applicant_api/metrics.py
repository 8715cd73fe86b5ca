"""Prometheus metrics of the applicant API (served at ``GET /metrics``, every gunicorn worker's
samples together: :mod:`lendstream.services.prometheus_metrics`)."""

from __future__ import annotations

from lendstream.services import prometheus_metrics

REQUESTS, LATENCY = prometheus_metrics.request_metrics("lendstream_api")
