"""Start-up reconciliation: which applicants past the saved cursor are already in Kafka.

The cursor is saved only after a batch is acknowledged, so a crash between the acknowledgement
and the save leaves records in Kafka that the cursor does not cover. Before publishing anything,
the producer reads each partition from the cursor's offset (from the beginning when there is no
cursor) to its current end and collects the ``applicant_id`` headers above ``after``: those are
skipped when the API serves them again. Neither a gap nor a duplicate follows, whatever subset of
the crashed batch had reached Kafka.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from lendstream.kafka_client import PLAINTEXT_SECURITY, KafkaSecurity
from lendstream.services.producer.cursor import Cursor
from lendstream.services.producer.messages import header_applicant_id


class ReconcileError(RuntimeError):
    """Kafka could not be read back completely, or disagrees with the cursor."""


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What Kafka holds beyond the cursor."""

    partitions: int
    already_published: frozenset[int]
    start_offsets: dict[int, int]
    end_offsets: dict[int, int]
    records_read: int


def reconcile(
    bootstrap: str,
    cursor: Cursor,
    timeout_s: float,
    client_id: str,
    security: KafkaSecurity = PLAINTEXT_SECURITY,
) -> Reconciliation:
    """Read every partition of ``cursor.topic`` from the cursor's offsets to its end."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        client_id=f"{client_id}-reconcile",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        allow_auto_create_topics=False,
        request_timeout_ms=30_000,
        **security.client_options(),
    )
    try:
        return _read_back(consumer, cursor, timeout_s)
    finally:
        consumer.close()


def _read_back(consumer: KafkaConsumer, cursor: Cursor, timeout_s: float) -> Reconciliation:
    deadline = time.monotonic() + timeout_s
    partition_ids = _partitions(consumer, cursor.topic, deadline)
    partitions = [TopicPartition(cursor.topic, p) for p in partition_ids]
    consumer.assign(partitions)
    beginnings = consumer.beginning_offsets(partitions)
    ends = consumer.end_offsets(partitions)
    start_offsets: dict[int, int] = {}
    for partition in partitions:
        saved = cursor.offsets.get(partition.partition, 0)
        if saved > ends[partition]:
            raise ReconcileError(
                f"{cursor.topic}[{partition.partition}] ends at {ends[partition]}, before the "
                f"cursor's offset {saved}: the topic was recreated or truncated; move the cursor "
                "file aside to republish from the start"
            )
        start = max(saved, beginnings[partition])
        start_offsets[partition.partition] = start
        consumer.seek(partition, start)
    found: set[int] = set()
    read = 0
    pending = {p for p in partitions if start_offsets[p.partition] < ends[p]}
    while pending:
        if time.monotonic() > deadline:
            raise ReconcileError(
                f"could not read {cursor.topic} back within {timeout_s:.0f} s "
                f"({len(pending)} partition(s) unfinished); refusing to risk duplicates"
            )
        for partition, records in consumer.poll(timeout_ms=500).items():
            for record in records:
                if record.offset >= ends[partition]:
                    continue
                read += 1
                applicant_id = header_applicant_id(record.headers)
                if applicant_id is not None and applicant_id > cursor.after:
                    found.add(applicant_id)
        for partition in list(pending):
            if consumer.position(partition) >= ends[partition]:
                pending.discard(partition)
                consumer.pause(partition)
    return Reconciliation(
        partitions=len(partitions),
        already_published=frozenset(found),
        start_offsets=start_offsets,
        end_offsets={p.partition: offset for p, offset in ends.items()},
        records_read=read,
    )


def _partitions(consumer: KafkaConsumer, topic: str, deadline: float) -> list[int]:
    while True:
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return sorted(partitions)
        if time.monotonic() > deadline:
            raise ReconcileError(f"topic {topic} does not exist (create it first)")
        time.sleep(0.5)
