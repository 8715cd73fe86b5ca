"""Prometheus metrics of the producer, served by prometheus_client's HTTP server on the address
and port of its settings (the producer is one plain process: the default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, start_http_server

from lendstream.services.environment import SettingsError

PUBLISHED = Counter(
    "lendstream_producer_published_total",
    "Applicants published to Kafka and acknowledged (acks=all).",
)
UNPUBLISHABLE = Counter(
    "lendstream_producer_unpublishable_total",
    "Entries of the applicant API that cannot be made a record (logged and skipped).",
)
PUBLISH_FAILURES = Counter(
    "lendstream_producer_publish_failures_total",
    "Batches Kafka did not acknowledge after its retries (the producer stops, cursor unsaved).",
)
API_POLLS = Counter(
    "lendstream_producer_api_polls_total",
    "Pages asked of the applicant API, by outcome: page (applicants), empty, error.",
    ["outcome"],
)
LAST_PUBLISHED_OFFSET = Gauge(
    "lendstream_producer_last_published_offset",
    "Offset of the last record Kafka acknowledged, by partition.",
    ["partition"],
)
CURSOR_APPLICANT_ID = Gauge(
    "lendstream_producer_cursor_applicant_id",
    "Applicant id of the saved cursor: every applicant up to it is published.",
)
LAST_BATCH_TIMESTAMP = Gauge(
    "lendstream_producer_last_batch_timestamp_seconds",
    "When the last batch was acknowledged and its cursor saved (Unix time): the age of the "
    "producer's progress.",
)

# The outcomes are known in advance: each shows 0 before it first happens.
for _outcome in ("page", "empty", "error"):
    API_POLLS.labels(outcome=_outcome)


def serve(address: str, port: int) -> None:
    """Serve /metrics on ``address:port`` from a daemon thread; SettingsError when it cannot
    (the port taken, the address not this host's)."""
    try:
        start_http_server(port, addr=address)
    except OSError as error:
        raise SettingsError(f"cannot serve /metrics on {address}:{port}: {error}") from None
