"""Kafka spout: one tuple per batch of polled records (up to N, or what came in T ms).

Partitions are assigned by hand (task i of n takes partitions p with p % n == i), so a restarted
worker reads again at once from the committed offsets, without waiting for a group rebalance.
An offset is committed only when every batch up to it is acknowledged (OffsetLedger); a failed
batch is emitted again with the same records. ``next_tuple`` never blocks longer than one short
poll, so the multilang heartbeat is always answered.

While deactivated (a deploy replacing the topology deactivates it, then kills it after a drain
longer than the message timeout) the spout emits nothing, and commits every ack at once instead
of at most every ``spout_commit_interval_ms``: the batches still in flight end up committed, so
the topology that replaces this one reads on from where they ended.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from streamparse import Spout

from lendstream.pipeline.endpoints import task_position
from lendstream.pipeline.flow import SourceRecord, pack_records
from lendstream.pipeline.multilang_json import use_stdlib_json
from lendstream.pipeline.offsets import Batch, OffsetLedger, RecordBuffer
from lendstream.pipeline.sealing import Sealer
from lendstream.pipeline.sealing import context as sealed_for
from lendstream.pipeline.textfile_metrics import PipelineMetrics
from lendstream.pipeline.timing import SPOUT_GATHER_STAGE, SPOUT_POLL_STAGE, TimingLog, now_ms
from lendstream.pipeline.topology_conf import TopologyConf

use_stdlib_json()  # before the component starts: see lendstream.pipeline.multilang_json

METADATA_TIMEOUT_S = 20.0  # below topology.subprocess.timeout.secs
# The component that reads this spout's tuples (topologies/loan_risk.py): the records are sealed
# for it (lendstream.pipeline.sealing; on a cluster, where a tuple_key_file is set).
RECEIVER = "clean"


def own_partitions(partitions: set[int], task_index: int, task_count: int) -> list[int]:
    return sorted(p for p in partitions if p % task_count == task_index)


class KafkaBatchSpout(Spout):
    # records: the packed batch; sent_ms: when it was emitted (lendstream.pipeline.timing)
    outputs: ClassVar[list[Any]] = ["records", "sent_ms"]

    def initialize(self, storm_conf: dict[str, Any], context: dict[str, Any]) -> None:
        self.conf = TopologyConf.from_storm_conf(storm_conf)
        self.sealer = Sealer.from_key_file(self.conf.tuple_key_file)
        self.max_pending = int(storm_conf.get("topology.max.spout.pending") or 16)
        self.consumer = KafkaConsumer(
            bootstrap_servers=self.conf.kafka_bootstrap_servers,
            group_id=self.conf.kafka_group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.conf.spout_batch_records,
            fetch_max_wait_ms=100,
            **self.conf.kafka_security().client_options(),
        )
        self.ledger = OffsetLedger()
        index, count = task_position(context)
        partitions = own_partitions(self._topic_partitions(), index, count)
        assigned = [TopicPartition(self.conf.kafka_topic, p) for p in partitions]
        self.consumer.assign(assigned)
        for tp in assigned:
            committed = self.consumer.committed(tp)
            self.ledger.start_partition(tp.partition, committed)
            if committed is not None:
                self.consumer.seek(tp, committed)
        self.next_commit = 0.0
        self.active = True
        # Records polled but not yet emitted: a tuple carries up to spout_batch_records of them,
        # gathered for at most spout_linger_ms (bigger batches under light load, bounded delay).
        self.buffer = RecordBuffer(
            self.conf.spout_batch_records, self.conf.spout_linger_ms / 1000.0
        )
        self.timing = TimingLog(self.conf.timing_dir, str(context["componentid"]))
        # Batches replayed, in this process's file for the node exporter (empty metrics_dir: off).
        self.metrics = PipelineMetrics(
            self.conf.metrics_dir,
            str(context["componentid"]),
            index,
            interval_s=self.conf.metrics_interval_s,
            on_error=self.logger.warning,
        )
        self.polled_at: list[tuple[int, float]] = []  # (records, epoch ms) per poll in buffer
        self.logger.info(
            "task %d/%d reads %s partitions %s of group %s",
            index + 1,
            count,
            self.conf.kafka_topic,
            partitions,
            self.conf.kafka_group_id,
        )

    def _topic_partitions(self) -> set[int]:
        deadline = time.monotonic() + METADATA_TIMEOUT_S
        while time.monotonic() < deadline:
            partitions = self.consumer.partitions_for_topic(self.conf.kafka_topic)
            if partitions:
                return set(partitions)
            time.sleep(0.5)
        raise RuntimeError(f"topic {self.conf.kafka_topic} has no partitions (does it exist?)")

    def next_tuple(self) -> None:
        self._commit_if_due()
        self.metrics.write_if_due()  # a replay counted since the last write, once it is due
        replay = self.ledger.next_replay()
        if replay is not None:
            self.logger.warning("replaying batch %s (attempt %d)", replay.batch_id, replay.attempts)
            self._emit(replay)
            return
        if len(self.ledger) >= self.max_pending:
            return
        polled = self.consumer.poll(
            timeout_ms=self.conf.spout_poll_timeout_ms, max_records=self.buffer.room
        )
        now = time.monotonic()
        if polled and self.timing.enabled:
            polled_ms = now_ms()
            self.polled_at.append((sum(len(r) for r in polled.values()), polled_ms))
            self.timing.record_each(
                SPOUT_POLL_STAGE,
                [polled_ms - r.timestamp for records in polled.values() for r in records],
            )
        for tp, records in polled.items():
            self.buffer.add(
                tp.partition,
                [
                    (
                        r.offset,
                        SourceRecord.from_bytes(
                            r.topic, r.partition, r.offset, r.timestamp, r.value
                        ),
                    )
                    for r in records
                ],
                now,
            )
        eager = len(self.ledger) < self.conf.spout_eager_below_in_flight
        if self.buffer.ready(now, eager=eager):
            batch = self.ledger.new_batch(self.buffer.take())
            sent_ms = self._emit(batch)
            for count, polled_ms in self.polled_at:
                self.timing.record(SPOUT_GATHER_STAGE, sent_ms - polled_ms, count)
            self.polled_at.clear()

    def _emit(self, batch: Batch) -> float:
        # one string per tuple: cheap for the worker JVM (see lendstream.pipeline.flow); sealed
        # anew on each emit, a replay too (a fresh nonce: lendstream.pipeline.sealing)
        packed = self.sealer.seal(pack_records(batch.records), sealed_for(RECEIVER, "records"))
        sent_ms = now_ms()
        self.emit([packed, sent_ms], tup_id=batch.batch_id)
        return sent_ms

    def activate(self) -> None:
        self.active = True
        self.logger.info("activated")

    def deactivate(self) -> None:
        self.active = False
        self.logger.info("deactivated with %d batches in flight", len(self.ledger))
        self.next_commit = 0.0
        self._commit_if_due()

    def ack(self, tup_id: str) -> None:
        self.ledger.ack(tup_id)
        if not self.active:  # draining before a kill: commit each ack at once
            self.next_commit = 0.0
        self._commit_if_due()  # also while deactivated, when next_tuple is not called

    def fail(self, tup_id: str) -> None:
        self.logger.warning("batch %s failed; it will be replayed", tup_id)
        self.ledger.fail(tup_id)
        self.metrics.replayed()

    def _commit_if_due(self) -> None:
        now = time.monotonic()
        if now < self.next_commit:
            return
        self.next_commit = now + self.conf.spout_commit_interval_ms / 1000.0
        points = self.ledger.commit_points()
        if not points:
            return
        offsets = {
            TopicPartition(self.conf.kafka_topic, partition): OffsetAndMetadata(offset, "", -1)
            for partition, offset in points.items()
        }
        try:
            self.consumer.commit(offsets)
        except KafkaError as error:  # not fatal: the same points are committed at the next try
            self.logger.warning("offset commit failed, will retry: %s", error)
            return
        self.ledger.committed(points)
