"""One end-to-end run of the topology on the real stack, and what it left behind.

A run has its own topic, dead-letter topic, HBase table, consumer group and topology name, so
runs never see each other's data. `expected_outcomes` says, from the same rules and the risk
service's model, what the topology must have stored or dead-lettered for each record produced.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import happybase
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from lendstream.bench import (
    committed_offsets,
    create_topic,
    drop_run_data,
    encode,
    end_offsets,
    member_key,
)
from lendstream.pipeline.dead_letter import DeadLetter
from lendstream.pipeline.flow import (
    Applicant,
    Outcome,
    SourceRecord,
    apply_rules,
    apply_scores,
    triage,
)
from lendstream.pipeline.hbase_writer import FAMILIES
from lendstream.pipeline.scoring import RiskServiceClient, RiskServiceSettings
from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.stack import topology_jar

WORKER_MAIN_CLASS = "org.apache.storm.daemon.worker.Worker"
LOG_WRITER_MAIN_CLASS = "org.apache.storm.LogWriter"


@dataclass
class Produced:
    """What was published: raw values by (partition, offset), with their Kafka timestamps."""

    values: dict[tuple[int, int], bytes] = field(default_factory=dict)
    timestamps: dict[tuple[int, int], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Expected:
    rows: dict[str, ExpectedRow]  # member_id → the applicant and its outcome
    dead_letters: dict[tuple[int, int], DeadLetter]  # source → dead letter


@dataclass(frozen=True)
class PipelineRun:
    run_id: str
    conf: TopologyConf
    nimbus: str

    @property
    def topology_name(self) -> str:
        return f"lendstream-e2e-{self.run_id}"

    @classmethod
    def create(cls, base: TopologyConf, nimbus: str) -> PipelineRun:
        run_id = uuid.uuid4().hex[:8]
        conf = replace(
            base,
            kafka_topic=f"e2e.{run_id}",
            kafka_dead_letter_topic=f"e2e.{run_id}.dlq",
            kafka_group_id=f"e2e-{run_id}",
            hbase_table=f"e2e_{run_id}",
        )
        create_topic(conf.kafka_bootstrap_servers, conf.kafka_topic)
        create_topic(conf.kafka_bootstrap_servers, conf.kafka_dead_letter_topic)
        connection = happybase.Connection(conf.hbase_host, conf.hbase_port, timeout=60_000)
        with_close(connection, lambda: connection.create_table(conf.hbase_table, FAMILIES))
        return cls(run_id, conf, nimbus)

    def deploy(self) -> None:
        topology_jar.deploy_local(self.conf, name=self.topology_name)

    def kill_topology(self) -> None:
        topology_jar.kill(self.nimbus, self.topology_name)

    def drop(self) -> None:
        """Delete the run's topics and table."""
        drop_run_data(
            self.conf.kafka_bootstrap_servers,
            [self.conf.kafka_topic, self.conf.kafka_dead_letter_topic],
            self.conf,
            [self.conf.hbase_table],
        )

    def produce(self, records: list[Any], produced: Produced, rate_per_s: float = 0.0) -> None:
        producer = KafkaProducer(
            bootstrap_servers=self.conf.kafka_bootstrap_servers, acks="all", linger_ms=5
        )
        start = time.monotonic()
        futures = []
        for index, record in enumerate(records):
            if rate_per_s:
                time.sleep(max(0.0, start + index / rate_per_s - time.monotonic()))
            value = encode(record)
            futures.append(
                (value, producer.send(self.conf.kafka_topic, key=member_key(record), value=value))
            )
        producer.flush(timeout=60)
        for value, future in futures:
            metadata = future.get(timeout=60)
            produced.values[(metadata.partition, metadata.offset)] = value
            produced.timestamps[(metadata.partition, metadata.offset)] = metadata.timestamp
        producer.close(timeout=30)

    def read_back(self, timeout_s: float = 120.0) -> Produced:
        """Everything in the run's topic, as published by someone else (the producer)."""
        ends = end_offsets(self.conf.kafka_bootstrap_servers, self.conf.kafka_topic)
        consumer = KafkaConsumer(
            bootstrap_servers=self.conf.kafka_bootstrap_servers, enable_auto_commit=False
        )
        partitions = [TopicPartition(self.conf.kafka_topic, p) for p in ends]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        produced = Produced()
        deadline = time.monotonic() + timeout_s
        try:
            while any(consumer.position(tp) < ends[tp.partition] for tp in partitions):
                assert time.monotonic() < deadline, "the topic was not read back in time"
                for batch in consumer.poll(timeout_ms=500).values():
                    for r in batch:
                        produced.values[(r.partition, r.offset)] = r.value
                        produced.timestamps[(r.partition, r.offset)] = r.timestamp
        finally:
            consumer.close()
        return produced

    def wait_until_all_committed(self, timeout_s: float) -> None:
        """Bounded wait until the spout committed every partition to its end (all acked)."""
        targets = end_offsets(self.conf.kafka_bootstrap_servers, self.conf.kafka_topic)
        deadline = time.monotonic() + timeout_s
        committed: dict[int, int] = {}
        while time.monotonic() < deadline:
            committed = committed_offsets(
                self.conf.kafka_bootstrap_servers, self.conf.kafka_group_id, self.conf.kafka_topic
            )
            if all(committed.get(p, 0) >= end for p, end in targets.items()):
                return
            time.sleep(1.0)
        raise AssertionError(f"after {timeout_s:.0f} s committed {committed}, end {targets}")

    def wait_until_some_committed(self, at_least: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            committed = committed_offsets(
                self.conf.kafka_bootstrap_servers, self.conf.kafka_group_id, self.conf.kafka_topic
            )
            if sum(committed.values()) >= at_least:
                return
            time.sleep(0.5)
        raise AssertionError(f"fewer than {at_least} records committed after {timeout_s:.0f} s")

    def stored_rows(self) -> dict[str, dict[bytes, bytes]]:
        connection = happybase.Connection(
            self.conf.hbase_host, self.conf.hbase_port, timeout=60_000
        )
        try:
            table = connection.table(self.conf.hbase_table)
            rows: dict[str, dict[bytes, bytes]] = {}
            for key, cells in table.scan(batch_size=1000):
                assert key.decode() not in rows, f"row {key!r} scanned twice"
                rows[key.decode()] = cells
            return rows
        finally:
            connection.close()

    def dead_letter_messages(
        self, timeout_s: float = 60.0
    ) -> list[tuple[bytes | None, dict[str, Any]]]:
        """Every message in the run's dead-letter topic (read to its end offsets)."""
        ends = end_offsets(self.conf.kafka_bootstrap_servers, self.conf.kafka_dead_letter_topic)
        consumer = KafkaConsumer(
            bootstrap_servers=self.conf.kafka_bootstrap_servers, enable_auto_commit=False
        )
        partitions = [TopicPartition(self.conf.kafka_dead_letter_topic, p) for p in ends]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        messages = []
        deadline = time.monotonic() + timeout_s
        try:
            while any(consumer.position(tp) < ends[tp.partition] for tp in partitions):
                assert time.monotonic() < deadline, "dead-letter topic not read in time"
                for batch in consumer.poll(timeout_ms=500).values():
                    messages.extend((r.key, json.loads(r.value)) for r in batch)
        finally:
            consumer.close()
        return messages

    def worker_pids(self) -> list[int]:
        """PIDs of this topology's worker JVMs (their command line names the topology id).

        The supervisor starts ``LogWriter``, whose arguments are the worker's command line and
        which starts the worker JVM: only the latter counts."""
        summary = topology_jar.nimbus_client(self.nimbus).getClusterInfo()
        ids = [t.id for t in summary.topologies or [] if t.name == self.topology_name]
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="ignore")
            except OSError:
                continue
            arguments = cmdline.split("\0")
            if (
                WORKER_MAIN_CLASS in arguments
                and LOG_WRITER_MAIN_CLASS not in arguments  # the worker's parent, not the worker
                and any(i in cmdline for i in ids)
            ):
                pids.append(int(entry.name))
        return pids

    def kill_worker(self) -> int:
        pids = self.worker_pids()
        assert len(pids) == 1, f"expected one worker JVM, found {pids}"
        os.kill(pids[0], signal.SIGKILL)
        return pids[0]

    def wait_for_new_worker(self, old_pid: int, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pids = [p for p in self.worker_pids() if p != old_pid]
            if pids:
                return pids[0]
            time.sleep(1.0)
        raise AssertionError(f"no new worker within {timeout_s:.0f} s after killing {old_pid}")


def with_close(connection: happybase.Connection, action: Any) -> None:
    try:
        action()
    finally:
        connection.close()


@dataclass(frozen=True)
class ExpectedRow:
    applicant: Applicant
    outcome: Outcome


def expected_outcomes(produced: Produced, topic: str, risk: RiskServiceSettings) -> Expected:
    """Run the same rules, and ask the risk service directly, for every produced record."""
    applicants = []
    letters: dict[tuple[int, int], DeadLetter] = {}
    for (partition, offset), value in produced.values.items():
        timestamp = produced.timestamps[(partition, offset)]
        outcome = triage(SourceRecord.from_bytes(topic, partition, offset, timestamp, value))
        if isinstance(outcome, DeadLetter):
            letters[(partition, offset)] = outcome
        else:
            applicants.append(outcome)
    client = RiskServiceClient(risk)
    outcomes = apply_scores(applicants, apply_rules(applicants), client)
    client.close()
    rows = {a.member_id: ExpectedRow(a, o) for a, o in zip(applicants, outcomes, strict=True)}
    assert len(rows) == len(applicants), "the generator repeated a member_id"
    return Expected(rows, letters)


def reconcile(run: PipelineRun, produced: Produced, expected: Expected) -> Counter[str]:
    """Assert the run stored and dead-lettered exactly what was expected; returns the counts."""
    rows = run.stored_rows()
    assert set(rows) == set(expected.rows), (
        f"missing rows {sorted(set(expected.rows) - set(rows))[:5]}, "
        f"unexpected rows {sorted(set(rows) - set(expected.rows))[:5]}"
    )
    counts: Counter[str] = Counter()
    for member_id, row in expected.rows.items():
        cells = rows[member_id]
        applicant, outcome = row.applicant, row.outcome
        decision = cells[b"result:decision"].decode()
        assert decision == outcome.decision, f"{member_id}: {decision} != {outcome.decision}"
        assert cells[b"member:raw"].decode() == applicant.raw
        assert json.loads(cells[b"member:clean"]) == json.loads(applicant.clean_json)
        assert int(cells[b"result:kafka_timestamp_ms"]) == applicant.kafka_timestamp_ms
        if decision == "rejected":
            assert cells[b"result:rule"].decode() == outcome.rule
            assert b"result:probability_of_default" not in cells
        else:
            stored = float(cells[b"result:probability_of_default"])
            assert outcome.probability_of_default is not None
            assert abs(stored - outcome.probability_of_default) < 1e-9
            assert cells[b"result:model_version"].decode() == outcome.model_version
        counts[decision] += 1
    messages = run.dead_letter_messages()
    by_source: dict[tuple[int, int], dict[str, Any]] = {}
    for key, value in messages:
        source = value["source"]
        assert source["topic"] == run.conf.kafka_topic
        position = (source["partition"], source["offset"])
        if position in by_source:
            assert by_source[position] == value, f"replayed dead letter differs at {position}"
        by_source[position] = value
        letter = expected.dead_letters.get(position)
        assert letter is not None, f"dead letter for a record that is not malformed: {value}"
        assert value == letter.message_value()
        assert key == letter.message_key()
    assert set(by_source) == set(expected.dead_letters)
    counts["dead_lettered"] = len(by_source)
    counts["dead_letter_messages"] = len(messages)
    counts["stored"] = len(rows)
    assert len(produced.values) == counts["stored"] + counts["dead_lettered"]
    return counts
