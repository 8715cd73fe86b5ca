"""The producer's settings, all from the environment (one home for every variable).

- ``LENDSTREAM_API_URL`` (``http://127.0.0.1:8080``): the applicant API.
- ``LENDSTREAM_API_TOKEN_FILE`` (preferred) or ``LENDSTREAM_API_TOKEN``: the bearer token sent to
  it (unset: none, as on the single-machine stack).
- ``LENDSTREAM_API_CA_FILE``: the CA certificate an ``https://`` API's certificate must chain to
  (the deployment's; host name checked). Unset: the system's trust store.
- ``LENDSTREAM_KAFKA_BOOTSTRAP`` (``127.0.0.1:9092``): Kafka bootstrap servers, comma-separated.
- ``LENDSTREAM_KAFKA_SECURITY_PROTOCOL`` (``PLAINTEXT``), ``LENDSTREAM_KAFKA_CA_FILE``,
  ``LENDSTREAM_KAFKA_USERNAME``, ``LENDSTREAM_KAFKA_PASSWORD_FILE``: how to reach Kafka
  (lendstream.kafka_client: ``SASL_SSL`` verifies the brokers against the CA and signs in as
  the SCRAM user).
- ``LENDSTREAM_APPLICANT_TOPIC`` (``lendstream.applicants``): the topic to publish to.
- ``LENDSTREAM_PRODUCER_CURSOR_FILE`` (``.cache/producer/cursor.json``): the persisted cursor.
- ``LENDSTREAM_PRODUCER_BATCH_SIZE`` (``500``, at most 1,000): applicants per API page and per
  acknowledged batch.
- ``LENDSTREAM_PRODUCER_POLL_INTERVAL_S`` (``2``): wait between polls once the API has no more.
- ``LENDSTREAM_PRODUCER_RECONCILE_TIMEOUT_S`` (``120``): limit on reading Kafka back at start.
- ``LENDSTREAM_PRODUCER_METRICS_PORT`` (unset: no endpoint) and
  ``LENDSTREAM_PRODUCER_METRICS_ADDRESS`` (``127.0.0.1``): where ``/metrics`` is served.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lendstream.kafka_client import PLAINTEXT_SECURITY, KafkaSecurity
from lendstream.services import environment as env_vars

MAX_BATCH_SIZE = 1000  # the applicant API's largest page


@dataclass(frozen=True, slots=True)
class ProducerSettings:
    """Where to read applicants, where to publish them, and how the producer paces itself."""

    api_url: str
    kafka_bootstrap: str
    topic: str
    cursor_file: Path
    batch_size: int
    poll_interval_s: float
    reconcile_timeout_s: float
    api_timeout_s: float = 10.0
    send_timeout_s: float = 120.0
    metrics_address: str = "127.0.0.1"
    metrics_port: int | None = None  # None: no /metrics endpoint
    api_token: str | None = None  # None: no Authorization header
    api_ca_file: str | None = None  # None: the system's trust store
    kafka_security: KafkaSecurity = PLAINTEXT_SECURITY

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ProducerSettings:
        env = env_vars.environment() if env is None else env
        return cls(
            api_url=env_vars.text(env, "LENDSTREAM_API_URL", "http://127.0.0.1:8080").rstrip("/"),
            kafka_bootstrap=env_vars.text(env, "LENDSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            topic=env_vars.text(env, "LENDSTREAM_APPLICANT_TOPIC", "lendstream.applicants"),
            cursor_file=Path(
                env_vars.text(env, "LENDSTREAM_PRODUCER_CURSOR_FILE", ".cache/producer/cursor.json")
            ),
            batch_size=env_vars.integer(
                env, "LENDSTREAM_PRODUCER_BATCH_SIZE", 500, minimum=1, maximum=MAX_BATCH_SIZE
            ),
            poll_interval_s=env_vars.number(
                env, "LENDSTREAM_PRODUCER_POLL_INTERVAL_S", 2.0, minimum=0.01
            ),
            reconcile_timeout_s=env_vars.number(
                env, "LENDSTREAM_PRODUCER_RECONCILE_TIMEOUT_S", 120.0, minimum=1.0
            ),
            metrics_address=env_vars.text(env, "LENDSTREAM_PRODUCER_METRICS_ADDRESS", "127.0.0.1"),
            metrics_port=_optional_port(env, "LENDSTREAM_PRODUCER_METRICS_PORT"),
            api_token=env_vars.secret(env, "LENDSTREAM_API_TOKEN", required=False),
            api_ca_file=env_vars.text(env, "LENDSTREAM_API_CA_FILE", "") or None,
            kafka_security=env_vars.kafka_security(env),
        )


def _optional_port(env: Mapping[str, str], name: str) -> int | None:
    """A TCP port, or None when the variable is unset or empty."""
    if not env.get(name, "").strip():
        return None
    return env_vars.integer(env, name, 0, minimum=1, maximum=65535)
