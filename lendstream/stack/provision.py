"""Idempotent setup once a component serves: Kafka topics and HBase tables.

What to create is read from the roles' defaults (`kafka_topics`, `hbase_tables`), so the local
stack and the cluster create the same topics and tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import happybase
import yaml
from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic

from lendstream.stack.layout import StackLayout

ADMIN_TIMEOUT_MS = 15_000
# Creating a table waits for its region to be assigned: slow while HBase is still starting.
CREATE_TABLE_TIMEOUT_MS = 60_000
LOCAL_REPLICATION_FACTOR = 1


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


@dataclass(frozen=True)
class TableSpec:
    name: str
    column_families: tuple[str, ...]


def role_default(layout: StackLayout, role: str, variable: str) -> Any:
    defaults = yaml.safe_load(
        (layout.ansible_dir / "roles" / role / "defaults" / "main.yml").read_text()
    )
    return defaults[variable]


def kafka_topics(layout: StackLayout) -> list[TopicSpec]:
    return [
        TopicSpec(t["name"], int(t["partitions"]))
        for t in role_default(layout, "kafka", "kafka_topics")
    ]


def hbase_tables(layout: StackLayout) -> list[TableSpec]:
    return [
        TableSpec(t["name"], tuple(t["column_families"]))
        for t in role_default(layout, "hbase", "hbase_tables")
    ]


def ensure_topics(bootstrap: str, topics: list[TopicSpec]) -> None:
    """Create missing topics; grow a topic that has fewer partitions than asked (never shrink)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=ADMIN_TIMEOUT_MS)
    try:
        existing = {
            description["name"]: len(description["partitions"])
            for description in admin.describe_topics()
        }
        missing = [
            NewTopic(
                t.name, num_partitions=t.partitions, replication_factor=LOCAL_REPLICATION_FACTOR
            )
            for t in topics
            if t.name not in existing
        ]
        if missing:
            admin.create_topics(missing, timeout_ms=ADMIN_TIMEOUT_MS)
        grow = {
            t.name: NewPartitions(total_count=t.partitions)
            for t in topics
            if t.name in existing and existing[t.name] < t.partitions
        }
        if grow:
            admin.create_partitions(grow, timeout_ms=ADMIN_TIMEOUT_MS)
    finally:
        admin.close()


def ensure_tables(host: str, port: int, tables: list[TableSpec]) -> None:
    """Create missing tables with their column families (existing ones are left as they are)."""
    connection = happybase.Connection(host=host, port=port, timeout=CREATE_TABLE_TIMEOUT_MS)
    try:
        existing = {name.decode() for name in connection.tables()}
        for table in tables:
            if table.name not in existing:
                connection.create_table(
                    table.name, {family: {} for family in table.column_families}
                )
    finally:
        connection.close()


def provision_kafka(layout: StackLayout) -> None:
    ensure_topics(f"{layout.host}:{layout.ports.kafka}", kafka_topics(layout))


def provision_hbase(layout: StackLayout) -> None:
    ensure_tables(layout.host, layout.ports.hbase_thrift, hbase_tables(layout))
