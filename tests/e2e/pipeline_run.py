"""One end-to-end run of the topology on the real stack, and what it left behind.

A run has its own topic, dead-letter topic, HBase table, consumer group and topology name, so
runs never see each other's data, and its own directory of pipeline metrics files (under the
stack's; lendstream.pipeline.textfile_metrics), which `wait_for_metrics` reads.
`expected_outcomes` and `reconcile` are thin wrappers over lendstream.reconcile (the operator's
check, the one home of the reconcile rules): what the topology must have stored or dead-lettered
for each record produced, and whether it did.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import happybase
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from lendstream import reconcile as reconciliation
from lendstream.bench import create_topic, drop_run_data
from lendstream.bench_producer import encode, member_key
from lendstream.pipeline.hbase_writer import FAMILIES
from lendstream.pipeline.scoring import RiskServiceSettings
from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.reconcile import Expectation, KafkaRecord
from lendstream.stack.runtime import StackEndpoints
from lendstream.stack.topology import deploy_local, local_settings
from lendstream.storm.deployment import kill
from lendstream.storm.nimbus import NimbusSession

# Files written every metrics_interval_s (5 s) at most, the save bolt's tick every 5 s.
METRICS_TIMEOUT_S = 30.0
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


@dataclass
class PipelineMetricTotals:
    """The pipeline metrics of every ``lendstream-*.prom`` file in a directory, summed over the
    processes (lendstream.pipeline.textfile_metrics), read with prometheus_client's parser."""

    components: Counter[str] = field(default_factory=Counter)  # files per component
    decisions: Counter[str] = field(default_factory=Counter)
    end_to_end_count: float = 0.0
    end_to_end_sum: float = 0.0
    replayed: float = 0.0

    @classmethod
    def read(cls, directory: Path) -> PipelineMetricTotals:
        totals = cls()
        for path in sorted(directory.glob("lendstream-*.prom")):
            text = path.read_text(encoding="utf-8")  # written by rename: never half a file
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    totals._add(sample.name, sample.labels, sample.value)
            totals.components[path.name.removeprefix("lendstream-").rsplit("-", 1)[0]] += 1
        return totals

    def _add(self, name: str, labels: dict[str, str], value: float) -> None:
        if name == "lendstream_pipeline_decisions_total":
            self.decisions[labels["outcome"]] += int(value)
        elif name == "lendstream_pipeline_end_to_end_seconds_count":
            self.end_to_end_count += value
        elif name == "lendstream_pipeline_end_to_end_seconds_sum":
            self.end_to_end_sum += value
        elif name == "lendstream_pipeline_batches_replayed_total":
            self.replayed += value

    def summary(self) -> dict[str, Any]:
        count = self.end_to_end_count
        return {
            "files": dict(self.components),
            "decisions": dict(sorted(self.decisions.items())),
            "end_to_end_count": count,
            "end_to_end_mean_s": round(self.end_to_end_sum / count, 3) if count else None,
            "batches_replayed": self.replayed,
        }


def assert_metrics_count_the_rows(
    totals: PipelineMetricTotals, rows: Mapping[str, int], batch_records: int
) -> None:
    """The save bolts' counters against the rows the run stored, ``rows``: their number by the
    decision each row carries (the reconcile's counts). A replayed batch's applicants are counted
    again (at least once, like their rows): exact without replays, else within the replays'."""
    summary = totals.summary()
    assert {"kafka", "save"} <= set(totals.components), summary
    stored = sum(rows.values())
    assert stored > 0, rows
    outcomes = sorted(totals.decisions.keys() | rows.keys())
    counted = {outcome: totals.decisions[outcome] for outcome in outcomes}
    expected = {outcome: rows.get(outcome, 0) for outcome in outcomes}
    if totals.replayed == 0:
        assert counted == expected, (summary, expected)
        assert totals.end_to_end_count == stored, (summary, expected)
    else:
        slack = int(totals.replayed) * batch_records
        for outcome in outcomes:
            assert expected[outcome] <= counted[outcome] <= expected[outcome] + slack, summary
        assert stored <= totals.end_to_end_count <= stored + slack, (summary, expected)
    assert totals.end_to_end_sum > 0, summary


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
        assert base.metrics_dir, "the stack's topology settings write no pipeline metrics"
        conf = replace(
            base,
            kafka_topic=f"e2e.{run_id}",
            kafka_dead_letter_topic=f"e2e.{run_id}.dlq",
            kafka_group_id=f"e2e-{run_id}",
            hbase_table=f"e2e_{run_id}",
            # A directory of its own: only this run's processes write there, so its counters are
            # this run's (no file of an earlier run's or topology's processes).
            metrics_dir=str(Path(base.metrics_dir) / f"e2e-{run_id}"),
        )
        # Made here, not only by deploy_local: the cluster deploy path (test_replace_topology) too.
        Path(conf.metrics_dir).mkdir(parents=True, exist_ok=True)
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
        """Delete the run's topics, table and metrics files."""
        drop_run_data(
            self.conf.kafka_bootstrap_servers,
            [self.conf.kafka_topic, self.conf.kafka_dead_letter_topic],
            self.conf,
            [self.conf.hbase_table],
        )
        # A component still exiting may write once more: the directory may not empty at once.
        shutil.rmtree(self.conf.metrics_dir, ignore_errors=True)

    def metrics(self) -> PipelineMetricTotals:
        return PipelineMetricTotals.read(Path(self.conf.metrics_dir))

    def wait_for_metrics(
        self, stored: int, timeout_s: float = METRICS_TIMEOUT_S
    ) -> PipelineMetricTotals:
        """The run's metrics files once they count ``stored`` applicants (a component writes its
        file at most every metrics_interval_s; the save bolt's tick writes the last batches),
        or as they are after ``timeout_s``."""
        start = time.monotonic()
        while True:
            totals = self.metrics()
            counted = min(totals.decisions.total(), totals.end_to_end_count)
            waited = time.monotonic() - start
            if counted >= stored or waited > timeout_s:
                print(f"pipeline metrics: {counted:,.0f} of {stored:,} after {waited:.1f} s")
                return totals
            time.sleep(0.5)

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
