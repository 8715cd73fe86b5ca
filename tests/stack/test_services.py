"""The JVM services of the single-machine stack, asked real questions through their protocols."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import happybase
import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from streamparse.util import get_nimbus_client

from lendstream.attacks import clients
from lendstream.attacks.clients import Outcome
from lendstream.stack import runtime
from lendstream.stack.layout import StackLayout
from lendstream.stack.provision import hbase_tables, kafka_topics
from lendstream.stack.runtime import StackEndpoints
from lendstream.stack.supervisor import Supervisor

pytestmark = pytest.mark.stack

CLIENT_TIMEOUT_S = 30.0


def test_status_reports_each_started_component_healthy(
    stack_kafka: StackEndpoints, stack_hbase: StackEndpoints, stack_storm: StackEndpoints
) -> None:
    report = runtime.status()
    for name in ("zookeeper", "kafka", "hbase", "storm"):
        assert report[name].ok, f"{name}: {report[name].detail}"


def test_topics_exist_with_the_kafka_roles_partitions(stack_kafka: StackEndpoints) -> None:
    admin = KafkaAdminClient(bootstrap_servers=stack_kafka.kafka_bootstrap)
    try:
        described = {d["name"]: len(d["partitions"]) for d in admin.describe_topics()}
    finally:
        admin.close()
    wanted = {t.name: t.partitions for t in kafka_topics(StackLayout.default())}
    assert wanted == {"lendstream.applicants": 4, "lendstream.applicants.dlq": 1}
    assert {name: described.get(name) for name in wanted} == wanted


def test_a_produced_message_is_consumed(stack_kafka: StackEndpoints) -> None:
    topic = f"stacktest.{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(bootstrap_servers=stack_kafka.kafka_bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    try:
        payload = uuid.uuid4().bytes
        producer = KafkaProducer(bootstrap_servers=stack_kafka.kafka_bootstrap, acks="all")
        producer.send(topic, key=b"member-1", value=payload).get(timeout=20)
        producer.close()
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=stack_kafka.kafka_bootstrap,
            group_id=f"stacktest-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
        )
        received: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while not received and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                received += [(record.key, record.value) for record in records]
        consumer.close()
        assert received == [(b"member-1", payload)]
    finally:
        admin.delete_topics([topic])
        admin.close()


def test_hbase_put_get_round_trip_through_thrift(stack_hbase: StackEndpoints) -> None:
    spec = next(t for t in hbase_tables(StackLayout.default()) if t.name == "members")
    connection = happybase.Connection(
        host=stack_hbase.hbase_thrift_host, port=stack_hbase.hbase_thrift_port
    )
    try:
        table = connection.table(spec.name)
        assert sorted(table.families()) == sorted(f.encode() for f in spec.column_families)
        row = f"stacktest-{uuid.uuid4().hex}".encode()
        with table.batch() as batch:
            batch.put(row, {b"member:raw": b'{"member_id": "1"}', b"result:decision": b"approve"})
        assert table.row(row) == {
            b"member:raw": b'{"member_id": "1"}',
            b"result:decision": b"approve",
        }
        table.delete(row)
        assert table.row(row) == {}
    finally:
        connection.close()


@pytest.mark.parametrize("daemon", sorted(clients.HBASE_RPC_READS))
def test_the_attack_suites_plaintext_hbase_call_is_answered_by_a_plaintext_hbase(
    stack_hbase: StackEndpoints, daemon: str
) -> None:
    """The stack's HBase speaks plaintext RPC: the attack suite's call (the one the cluster's TLS
    servers must hang up on) gets a real answer, so the probe tells plaintext by proof."""
    port = getattr(StackLayout.default().ports, f"hbase_{daemon}")
    outcome, detail = clients.hbase_rpc_plaintext(
        [stack_hbase.hbase_thrift_host], port, {"daemon": daemon}
    )
    assert (outcome, detail.endswith("call 1 answered")) == (Outcome.SUCCEEDED, True), detail


def test_nimbus_reports_a_supervisor_with_free_slots(stack_storm: StackEndpoints) -> None:
    client = get_nimbus_client(
        host=stack_storm.storm_nimbus_host, port=stack_storm.storm_nimbus_port, timeout=20_000
    )
    summary = client.getClusterInfo()
    supervisors = summary.supervisors
    assert len(supervisors) >= 1
    assert sum(s.num_workers - s.num_used_workers for s in supervisors) >= 1


def test_storm_workers_find_the_virtualenvs_streamparse_run(stack_storm: StackEndpoints) -> None:
    """The running supervisor has the venv first on its PATH, which the workers inherit."""
    pid = Supervisor(StackLayout.default()).info("storm-supervisor")["pid"]
    environment = dict(
        entry.split("=", 1)
        for entry in Path(f"/proc/{pid}/environ").read_text().split("\0")
        if "=" in entry
    )
    first_on_path = Path(environment["PATH"].split(":")[0])
    assert first_on_path == Path(sys.executable).parent
    assert (first_on_path / "streamparse_run").exists()


def test_rendered_configs_carry_the_ansible_managed_header(
    stack_mysql: StackEndpoints,
    stack_kafka: StackEndpoints,
    stack_hbase: StackEndpoints,
    stack_storm: StackEndpoints,
) -> None:
    root = StackLayout.default().root
    rendered = [
        root / "zookeeper/conf/zoo.cfg",
        root / "zookeeper/conf/logback.xml",
        root / "kafka/conf/server.properties",
        root / "kafka/conf/log4j2.xml",
        root / "hbase/conf/hbase-site.xml",
        root / "hbase/conf/log4j2.properties",
        root / "storm/home/conf/storm.yaml",
        root / "storm/home/log4j2/cluster.xml",
        root / "storm/home/log4j2/worker.xml",
        root / "mysql/conf/my.cnf",
        root / "zookeeper/bin/zookeeper-server",
        root / "kafka/bin/kafka-server",
        root / "hbase/bin/hbase-thrift",
        root / "storm/bin/storm-supervisor",
    ]
    for path in rendered:
        head = path.read_text().splitlines()[:4]
        assert any("Ansible managed" in line for line in head), path
