"""The pipeline exporter's settings, all from the environment (one home for every variable).

- ``LENDSTREAM_KAFKA_BOOTSTRAP`` (``127.0.0.1:9092``): Kafka bootstrap servers, comma-separated.
- ``LENDSTREAM_KAFKA_SECURITY_PROTOCOL`` (``PLAINTEXT``), ``LENDSTREAM_KAFKA_CA_FILE``,
  ``LENDSTREAM_KAFKA_USERNAME``, ``LENDSTREAM_KAFKA_PASSWORD_FILE``: how to reach Kafka
  (lendstream.kafka_client; the operator's read-only SCRAM user on a secured cluster).
- ``LENDSTREAM_APPLICANT_TOPIC`` (the topology's): the topic the topology reads.
- ``LENDSTREAM_DEAD_LETTER_TOPIC`` (the topology's): the topic it writes dead letters to.
- ``LENDSTREAM_TOPOLOGY_GROUP`` (the topology's): the consumer group it commits offsets in.
- ``LENDSTREAM_PIPELINE_EXPORTER_INTERVAL_S`` (``10``): seconds between two reads of Kafka.
- ``LENDSTREAM_PIPELINE_EXPORTER_HISTORY`` (``60``): samples the ``/status`` page's charts keep
  (60 samples of 10 s: the last 10 minutes).
- ``LENDSTREAM_PIPELINE_EXPORTER_ADDRESS`` (``127.0.0.1``) and
  ``LENDSTREAM_PIPELINE_EXPORTER_PORT`` (``8093``): where ``/metrics`` and ``/status`` are
  served.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lendstream.kafka_client import PLAINTEXT_SECURITY, KafkaSecurity
from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.services import environment as env_vars


@dataclass(frozen=True, slots=True)
class ExporterSettings:
    """What the exporter reads, how often, and where it serves its metrics."""

    kafka_bootstrap: str
    topic: str
    dead_letter_topic: str
    group: str
    interval_s: float
    history_size: int
    address: str
    port: int
    kafka_security: KafkaSecurity = PLAINTEXT_SECURITY

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ExporterSettings:
        env = env_vars.environment() if env is None else env
        topology = TopologyConf()
        return cls(
            kafka_bootstrap=env_vars.text(env, "LENDSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            topic=env_vars.text(env, "LENDSTREAM_APPLICANT_TOPIC", topology.kafka_topic),
            dead_letter_topic=env_vars.text(
                env, "LENDSTREAM_DEAD_LETTER_TOPIC", topology.kafka_dead_letter_topic
            ),
            group=env_vars.text(env, "LENDSTREAM_TOPOLOGY_GROUP", topology.kafka_group_id),
            interval_s=env_vars.number(
                env, "LENDSTREAM_PIPELINE_EXPORTER_INTERVAL_S", 10.0, minimum=0.5
            ),
            history_size=env_vars.integer(
                env, "LENDSTREAM_PIPELINE_EXPORTER_HISTORY", 60, minimum=2, maximum=10_000
            ),
            address=env_vars.text(env, "LENDSTREAM_PIPELINE_EXPORTER_ADDRESS", "127.0.0.1"),
            port=env_vars.integer(
                env, "LENDSTREAM_PIPELINE_EXPORTER_PORT", 8093, minimum=1, maximum=65535
            ),
            kafka_security=env_vars.kafka_security(env),
        )
