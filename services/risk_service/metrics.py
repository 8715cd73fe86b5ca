"""Prometheus metrics of the risk service, correct under several gunicorn workers.

Requests by route and status and latency by route as the applicant API's, served at ``GET /metrics``
with every gunicorn worker's samples together (:mod:`lendstream.services.prometheus_metrics`);
scored applicants by decision, batch sizes, the loaded model version.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from lendstream.services import prometheus_metrics

REQUESTS, LATENCY = prometheus_metrics.request_metrics("lendstream_risk")
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
