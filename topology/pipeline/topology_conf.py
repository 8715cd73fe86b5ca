"""The topology's own settings, read from the Storm configuration (``lendstream.*`` keys).

They are set at submit time (``sparse submit -o key=value``, see lendstream.stack.topology_jar)
and carry only addresses and file paths — the risk-service token, the Kafka password and the key
that seals the tuples are read from files on the worker, so they never show in the Storm UI's
topology configuration.

``risk_service_urls`` and ``hbase_hosts`` are comma-separated lists (one entry on the
single-machine stack; on a cluster one risk service per node, and one Thrift server, 127.0.0.1:
every node's own, which listens on loopback only); :meth:`TopologyConf.risk_service_settings` and
:meth:`TopologyConf.hbase_settings` give a task its own first endpoint and the others to fail
over to (lendstream.pipeline.endpoints).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from lendstream.kafka_client import KafkaSecurity
from lendstream.pipeline.endpoints import rotated, split_list
from lendstream.pipeline.hbase_writer import HBaseSettings
from lendstream.pipeline.poison import DEFAULT_POISON_BATCH_FAILURES
from lendstream.pipeline.scoring import RiskServiceSettings

PREFIX = "lendstream."


@dataclass(frozen=True)
class TopologyConf:
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic: str = "lendstream.applicants"
    kafka_dead_letter_topic: str = "lendstream.applicants.dlq"
    kafka_group_id: str = "lendstream-topology"
    # How the spout and the dead-letter writer reach Kafka (lendstream.kafka_client): PLAINTEXT,
    # or SASL_SSL with the deployment CA, the topology's SCRAM user and a file of its password.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_ca_file: str = ""
    kafka_username: str = ""
    kafka_password_file: str = ""
    spout_batch_records: int = 500
    spout_poll_timeout_ms: int = 50
    spout_linger_ms: int = 250
    # Fewer batches than this in flight: the spout emits what it polled at once instead of
    # gathering for spout_linger_ms (adaptive batching: small batches only when stages are idle).
    spout_eager_below_in_flight: int = 2
    spout_commit_interval_ms: int = 200
    risk_service_urls: str = "http://127.0.0.1:8090"  # comma-separated
    risk_service_token_file: str = ""
    # CA certificate an https:// risk service must chain to (the deployment's); empty: the system's.
    risk_service_ca_file: str = ""
    risk_service_timeout_s: float = 10.0
    # Record-caused failures of one batch (risk service refusing it without naming the applicant)
    # before its next delivery is split down to the refused applicants (lendstream.pipeline.poison).
    poison_batch_failures: int = DEFAULT_POISON_BATCH_FAILURES
    hbase_hosts: str = "127.0.0.1"  # comma-separated Thrift servers (a cluster: the node's own)
    hbase_port: int = 9090
    hbase_table: str = "members"
    hbase_batch_size: int = 500
    # Where each component appends its per-stage timing samples (lendstream.pipeline.timing);
    # empty: none are written. The benchmark sets it to read where the time goes.
    timing_dir: str = ""
    # The node exporter's textfile directory, where each component writes its own metrics file
    # (lendstream.pipeline.textfile_metrics); empty: none are written. The single-machine stack
    # sets .cache/stack/pipeline-metrics (lendstream.stack.topology.local_settings).
    metrics_dir: str = ""
    metrics_interval_s: float = 5.0
    # The file of the key that seals what the components hand each other (on a cluster, where
    # tuples cross the network: lendstream.pipeline.sealing); empty: nothing is sealed.
    tuple_key_file: str = ""

    @classmethod
    def from_storm_conf(cls, storm_conf: dict[str, Any]) -> TopologyConf:
        values: dict[str, Any] = {}
        for field in fields(cls):
            key = PREFIX + field.name
            if key in storm_conf and storm_conf[key] is not None:
                value = storm_conf[key]
                if isinstance(value, list | tuple):  # a list given as such: same as "a,b"
                    value = ",".join(str(entry) for entry in value)
                values[field.name] = type(getattr(cls, field.name))(value)
        return cls(**values)

    def kafka_security(self) -> KafkaSecurity:
        """The Kafka clients' security settings (the password is read when a client is made)."""
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            ca_file=self.kafka_ca_file or None,
            username=self.kafka_username or None,
            password_file=self.kafka_password_file or None,
        )

    @property
    def risk_service_url(self) -> str:
        """The first risk service: for tools that talk to one (demo, bench, tests)."""
        return split_list(self.risk_service_urls)[0]

    @property
    def hbase_host(self) -> str:
        """The first HBase Thrift server: for tools that read through one (demo, bench, tests)."""
        return split_list(self.hbase_hosts)[0]

    def risk_service_settings(self, task_index: int = 0) -> RiskServiceSettings:
        """The score client of task ``task_index``: its own risk service first, then the others.
        Reads the token from ``risk_service_token_file``."""
        first, *others = rotated(split_list(self.risk_service_urls), task_index)
        return RiskServiceSettings.from_token_file(
            first,
            self.risk_service_token_file,
            timeout_s=self.risk_service_timeout_s,
            failover_urls=tuple(others),
            ca_file=self.risk_service_ca_file or None,
        )

    def hbase_settings(self, task_index: int = 0) -> HBaseSettings:
        """The HBase writer of task ``task_index``: its own Thrift server first, then the others."""
        first, *others = rotated(split_list(self.hbase_hosts), task_index)
        return HBaseSettings(
            host=first,
            port=self.hbase_port,
            table=self.hbase_table,
            batch_size=self.hbase_batch_size,
            failover_hosts=tuple(others),
        )

    def as_storm_options(self) -> dict[str, Any]:
        return {PREFIX + field.name: getattr(self, field.name) for field in fields(self)}
