"""One end-to-end run of the topology on the real stack, and what it left behind.

A run has its own topic, dead-letter topic, HBase table, consumer group and topology name, so
runs never see each other's data. `expected_outcomes` and `reconcile` are thin wrappers over
lendstream.reconcile (the operator's check, the one home of the reconcile rules): what the
topology must have stored or dead-lettered for each record produced, and whether it did.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import happybase
from kafka import KafkaProducer

from lendstream import reconcile as reconciliation
from lendstream.bench import create_topic, drop_run_data, encode, member_key
from lendstream.pipeline.hbase_writer import FAMILIES
from lendstream.pipeline.scoring import RiskServiceSettings
from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.reconcile import Expectation, KafkaRecord
from lendstream.stack.runtime import StackEndpoints
from lendstream.stack.topology import deploy_local, local_settings
from lendstream.storm.deployment import kill
from lendstream.storm.nimbus import NimbusSession

WORKER_MAIN_CLASS = "org.apache.storm.daemon.worker.Worker"
LOG_WRITER_MAIN_CLASS = "org.apache.storm.LogWriter"


@dataclass
class Produced:
    """What was published: raw values by (partition, offset), with their Kafka timestamps."""

    values: dict[tuple[int, int], bytes] = field(default_factory=dict)
    timestamps: dict[tuple[int, int], int] = field(default_factory=dict)

    def records(self) -> list[KafkaRecord]:
        return [
            KafkaRecord(partition, offset, self.timestamps[(partition, offset)], None, value)
            for (partition, offset), value in sorted(self.values.items())
        ]


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

    def deploy(self, extra_options: dict[str, Any] | None = None) -> None:
        """Submit the run's topology; ``extra_options`` override Storm settings (sparse -o)."""
        deploy_local(self.conf, name=self.topology_name, extra_options=extra_options)

    def kill_topology(self) -> None:
        kill(self.nimbus, self.topology_name)

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
        contents = reconciliation.read_topic(
            self.conf.kafka_bootstrap_servers, self.conf.kafka_topic, timeout_s
        )
        produced = Produced()
        for record in contents.records:
            assert record.value is not None, f"null value at {record.partition}/{record.offset}"
            produced.values[(record.partition, record.offset)] = record.value
            produced.timestamps[(record.partition, record.offset)] = record.timestamp_ms
        return produced

    def wait_until_all_committed(self, timeout_s: float) -> None:
        """Bounded wait until the spout committed every partition to its end (all acked)."""
        reconciliation.wait_until_drained(
            self.conf.kafka_bootstrap_servers,
            self.conf.kafka_topic,
            self.conf.kafka_group_id,
            timeout_s,
            settle_s=0.0,
            progress=print,
        )

    def wait_until_some_committed(self, at_least: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            committed = reconciliation.committed_offsets(
                self.conf.kafka_bootstrap_servers, self.conf.kafka_group_id, self.conf.kafka_topic
            )
            if sum(committed.values()) >= at_least:
                return
            time.sleep(0.5)
        raise AssertionError(f"fewer than {at_least} records committed after {timeout_s:.0f} s")

    def worker_pids(self) -> list[int]:
        """PIDs of this topology's worker JVMs (their command line names the topology id).

        The supervisor starts ``LogWriter``, whose arguments are the worker's command line and
        which starts the worker JVM: only the latter counts."""
        with NimbusSession(self.nimbus) as nimbus:
            summary = nimbus.client.getClusterInfo()
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


def expected_outcomes(
    produced: Produced,
    topic: str,
    risk: RiskServiceSettings,
    refused_at: Collection[tuple[int, int]] = (),
) -> Expectation:
    """Run the same rules, and ask the risk service directly, for every produced record; those
    at ``refused_at`` (partition, offset) the risk service refused (dead letters, stage score)."""
    triaged = reconciliation.triage_published(produced.records(), topic)
    assert triaged.superseded == 0, "the generator repeated a member_id"
    scorer = reconciliation.risk_service_scorer(risk)
    return reconciliation.expect(triaged, scorer, refused_at=refused_at)


def refused_positions(run: PipelineRun) -> set[tuple[int, int]]:
    """(partition, offset) of the run's records dead-lettered at stage score."""
    letters = reconciliation.read_topic(
        run.conf.kafka_bootstrap_servers, run.conf.kafka_dead_letter_topic, timeout_s=60.0
    )
    return reconciliation.refused_positions(letters.records, run.conf.kafka_topic)


def reconcile(run: PipelineRun, produced: Produced, expected: Expectation) -> Counter[str]:
    """Assert the run stored and dead-lettered exactly what was expected (lendstream.reconcile's
    rules, and nothing else in the run's own table); returns the counts."""
    conf = run.conf
    letters = reconciliation.read_topic(
        conf.kafka_bootstrap_servers, conf.kafka_dead_letter_topic, timeout_s=60.0
    )
    rows = reconciliation.read_table([conf.hbase_host], conf.hbase_port, conf.hbase_table)
    # A run's topic is new: every record from offset 0 on is in `produced`.
    report = reconciliation.compare(expected, rows, letters.records, log_start={})
    summary = report.as_dict()
    assert report.reconciled, "\n".join(report.differences[:20])
    assert report.extra_rows == 0, f"rows the run did not publish: {report.extra_row_keys}"
    assert report.older_dead_letters == report.other_topic_dead_letters == 0, summary
    assert report.published == len(produced.values), summary
    counts: Counter[str] = Counter(report.decisions)
    counts["dead_lettered"] = report.dead_lettered
    counts["dead_letter_messages"] = report.dead_letter_messages
    counts["stored"] = report.stored
    return counts


def new_run(stack: StackEndpoints, risk: RiskServiceSettings) -> PipelineRun:
    """A run of its own on the single-machine stack, scored by `risk`."""
    conf = replace(
        local_settings(),
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        hbase_hosts=stack.hbase_thrift_host,
        hbase_port=stack.hbase_thrift_port,
        risk_service_urls=risk.base_url,
        risk_service_token_file=str(risk.token_file),
    )
    nimbus = f"{stack.storm_nimbus_host}:{stack.storm_nimbus_port}"
    return PipelineRun.create(conf, nimbus)


@contextmanager
def isolated_run(stack: StackEndpoints, risk: RiskServiceSettings) -> Iterator[PipelineRun]:
    """A run of its own for the block: afterwards, whatever happened, its topology is killed and
    its topics and table are dropped."""
    run = new_run(stack, risk)
    try:
        yield run
    finally:
        run.kill_topology()
        run.drop()
