"""Prometheus metrics of the risk service, correct under several gunicorn workers.

Requests by route and status and latency by route as the applicant API's, served at ``GET /metrics``
with every gunicorn worker's samples together (:mod:`lendstream.services.prometheus_metrics`);
scored applicants by decision, batch sizes, the loaded model version. A deployment's probe (an
authorised request with the ``X-Lendstream-Probe`` header: the rollout's gate, tasks/health.yml of
the risk_service role) is counted in ``PROBES`` alone, so the pipeline's request, latency and
decision figures and the alerts on them hold the pipeline's requests only.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from lendstream.services import prometheus_metrics

REQUESTS, LATENCY = prometheus_metrics.request_metrics("lendstream_risk")
# The header a deployment's probe sends (its value says which: ``rollout``); honoured only with a
# valid token, so a client without one cannot keep its refused requests out of REQUESTS.
PROBE_HEADER = "X-Lendstream-Probe"
PROBES = Counter(
    "lendstream_risk_probe_requests_total",
    "Scoring requests of a deployment probe (X-Lendstream-Probe), by status; only here.",
    ["status"],
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
