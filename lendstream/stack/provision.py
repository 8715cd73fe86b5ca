"""Idempotent setup once a component serves: Kafka topics and HBase tables.

What to create is read from the roles' defaults (`kafka_topics`, `hbase_tables`), so the local
stack and the cluster create the same topics and tables.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import yaml
from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic

from lendstream.stack.layout import StackLayout

ADMIN_TIMEOUT_MS = 15_000
# Creating a table waits for its region to be assigned: slow while HBase is still starting
# (the helper's own client timeout is 60 s per call).
CREATE_TABLES_TIMEOUT_S = 90.0
LOCAL_REPLICATION_FACTOR = 1


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


# Creating a pre-split table runs a JVM (HBase's RegionSplitter) that waits for the regions.
PRESPLIT_TIMEOUT_S = 120.0
REGION_SPLITTER = "org.apache.hadoop.hbase.util.RegionSplitter"


@dataclass(frozen=True)
class TableSpec:
    name: str
    column_families: tuple[str, ...]
    regions: int = 1


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
        TableSpec(t["name"], tuple(t["column_families"]), int(t.get("regions", 1)))
        for t in role_default(layout, "hbase", "hbase_tables")
    ]


def role_var(layout: StackLayout, role: str, variable: str) -> Any:
    values = yaml.safe_load((layout.ansible_dir / "roles" / role / "vars" / "main.yml").read_text())
    return values[variable]


def region_splitter_argv(layout: StackLayout, spec: TableSpec) -> list[str]:
    """The command that creates ``spec`` pre-split, as the hbase role's tasks/tables.yml runs it:
    RegionSplitter through the role's bin/hbase-tool launcher, with the role's key range."""
    return [
        str(layout.component_dir("hbase") / "bin" / "hbase-tool"),
        REGION_SPLITTER,
        spec.name,
        "HexStringSplit",
        "-c",
        str(spec.regions),
        "-f",
        ":".join(spec.column_families),
        "--firstrow",
        str(role_var(layout, "hbase", "__hbase_split_first_row")),
        "--lastrow",
        str(role_var(layout, "hbase", "__hbase_split_last_row")),
    ]


def create_presplit_table(layout: StackLayout, spec: TableSpec) -> None:
    """Create ``spec`` with its regions (the stack's HBase); fails if it exists."""
    command = region_splitter_argv(layout, spec)
    try:
        subprocess.run(
            command, capture_output=True, text=True, check=True, timeout=PRESPLIT_TIMEOUT_S
        )
    except subprocess.CalledProcessError as error:
        raise RuntimeError(
            f"RegionSplitter failed for {spec.name}: {error.stderr[-2000:]}"
        ) from error


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


def provision_kafka(layout: StackLayout) -> None:
    ensure_topics(f"{layout.host}:{layout.ports.kafka}", kafka_topics(layout))


def provision_hbase(layout: StackLayout) -> None:
    """Create the missing tables with the hbase role's own helper (files/hbase_tables.py, which
    the role runs the same way on the controller), and the pre-split ones with RegionSplitter
    through the role's launcher (as tasks/tables.yml), so the stack's tables are the cluster's."""
    helper = layout.ansible_dir / "roles" / "hbase" / "files" / "hbase_tables.py"
    tables = hbase_tables(layout)
    specs = [
        {"name": t.name, "column_families": list(t.column_families), "regions": t.regions}
        for t in tables
    ]
    port = str(layout.ports.hbase_thrift)
    command = [sys.executable, str(helper), layout.host, port, json.dumps(specs)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, check=True, timeout=CREATE_TABLES_TIMEOUT_S
        )
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"{helper.name} failed: {error.stderr[-2000:]}") from error
    presplit = set(json.loads(done.stdout)["presplit"])
    for spec in tables:
        if spec.name in presplit:
            create_presplit_table(layout, spec)
