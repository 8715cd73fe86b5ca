"""The topology's own settings, read from the Storm configuration (``lendstream.*`` keys).

They are set at submit time (``sparse submit -o key=value``, see lendstream.stack.topology_jar)
and carry only addresses and file paths — the risk-service token is read from a file on the
worker, so it never shows in the Storm UI's topology configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

PREFIX = "lendstream."


@dataclass(frozen=True)
class TopologyConf:
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic: str = "lendstream.applicants"
    kafka_dead_letter_topic: str = "lendstream.applicants.dlq"
    kafka_group_id: str = "lendstream-topology"
    spout_batch_records: int = 500
    spout_poll_timeout_ms: int = 50
    spout_linger_ms: int = 50
    spout_commit_interval_ms: int = 200
    risk_service_url: str = "http://127.0.0.1:8090"
    risk_service_token_file: str = ""
    risk_service_timeout_s: float = 10.0
    hbase_host: str = "127.0.0.1"
    hbase_port: int = 9090
    hbase_table: str = "members"
    hbase_batch_size: int = 500

    @classmethod
    def from_storm_conf(cls, storm_conf: dict[str, Any]) -> TopologyConf:
        values: dict[str, Any] = {}
        for field in fields(cls):
            key = PREFIX + field.name
            if key in storm_conf and storm_conf[key] is not None:
                values[field.name] = type(getattr(cls, field.name))(storm_conf[key])
        return cls(**values)

    def as_storm_options(self) -> dict[str, Any]:
        return {PREFIX + field.name: getattr(self, field.name) for field in fields(self)}
