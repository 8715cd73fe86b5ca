"""Reading Kafka: a topic's offsets and records, and a consumer group's committed offsets.

The one home of these readers, for the operator's check (lendstream.reconcile), the demo, the
bench and the tests. Every wait is bounded: kafka-python's bootstrap and requests time out in
seconds, and the loops here have a deadline of their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from lendstream.kafka_client import PLAINTEXT_SECURITY, KafkaSecurity
from lendstream.pipeline.endpoints import split_list

POLL_INTERVAL_S = 1.0
PROGRESS_INTERVAL_S = 10.0
# kafka-python's waits: each request, and the first metadata (bootstrap), each bounded.
KAFKA_REQUEST_TIMEOUT_MS = 15_000
KAFKA_BOOTSTRAP_TIMEOUT_MS = 15_000


class KafkaReadError(RuntimeError):
    """Kafka could not be read as asked (a topic missing, a read or a wait out of time)."""


def consumer(
    bootstrap: str | Sequence[str],
    group: str | None = None,
    security: KafkaSecurity = PLAINTEXT_SECURITY,
) -> KafkaConsumer:
    """A consumer whose waits are bounded. Its bootstrap is eager and bounded: kafka-python
    (3.0) learns the API version from the broker it bootstraps from, trying the listed ones in
    turn until KAFKA_BOOTSTRAP_TIMEOUT_MS. (Given an ``api_version`` it bootstraps lazily with
    no bound: a ``bootstrap(timeout_ms=15000)`` on a dead broker was still waiting after 60 s.)
    The reconcile lists only the brokers that answer (lendstream.reconcile.endpoints).
    ``security``: how to connect (lendstream.kafka_client; plaintext by default)."""
    servers = list(split_list(bootstrap)) if isinstance(bootstrap, str) else list(bootstrap)
    return KafkaConsumer(
        bootstrap_servers=servers,
        group_id=group,
        enable_auto_commit=False,
        request_timeout_ms=KAFKA_REQUEST_TIMEOUT_MS,
        bootstrap_timeout_ms=KAFKA_BOOTSTRAP_TIMEOUT_MS,
        **security.client_options(),
    )


def committed_offset(reader: KafkaConsumer, partition: TopicPartition) -> int | None:
    """The committed offset of ``reader``'s group on ``partition`` (None: none), bounded."""
    offset: int | None = reader.committed(partition, timeout_ms=KAFKA_REQUEST_TIMEOUT_MS)
    return offset


def end_offsets_of(reader: KafkaConsumer, partitions: list[TopicPartition]) -> dict[int, int]:
    """Partition number → offset after its last record."""
    return {tp.partition: offset for tp, offset in reader.end_offsets(partitions).items()}


def partitions_of(reader: KafkaConsumer, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic``, in order; KafkaReadError when it has none."""
    found = reader.partitions_for_topic(topic)
    if not found:
        raise KafkaReadError(f"topic {topic!r} does not exist (or has no partitions)")
    return [TopicPartition(topic, p) for p in sorted(found)]


def end_offsets(
    bootstrap: str | Sequence[str], topic: str, security: KafkaSecurity = PLAINTEXT_SECURITY
) -> dict[int, int]:
    """Partition → offset after its last record."""
    reader = consumer(bootstrap, security=security)
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        return end_offsets_of(reader, partitions)
    finally:
        reader.close()


def committed_offsets(
    bootstrap: str | Sequence[str],
    group: str,
    topic: str,
    security: KafkaSecurity = PLAINTEXT_SECURITY,
) -> dict[int, int]:
    """Partition → the group's committed offset (next to read), for partitions it committed.
    The consumer asking never joins the group, so it does not disturb the group's members."""
    reader = consumer(bootstrap, group, security)
    try:
        partitions = reader.partitions_for_topic(topic) or set()
        offsets = {p: committed_offset(reader, TopicPartition(topic, p)) for p in partitions}
        return {p: o for p, o in offsets.items() if o is not None}
    finally:
        reader.close()


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class TopicContents:
    records: list[KafkaRecord]
    log_start: dict[int, int]  # partition → its first offset still held (retention moves it)


def read_topic(
    bootstrap: str | Sequence[str],
    topic: str,
    timeout_s: float,
    security: KafkaSecurity = PLAINTEXT_SECURITY,
) -> TopicContents:
    """Every record of ``topic``, from each partition's start to its end offset when called."""
    reader = consumer(bootstrap, security=security)
    try:
        partitions = partitions_of(reader, topic)
        reader.assign(partitions)
        starts = reader.beginning_offsets(partitions)
        ends = reader.end_offsets(partitions)
        reader.seek_to_beginning(*partitions)
        records: list[KafkaRecord] = []
        deadline = time.monotonic() + timeout_s
        while any(reader.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise KafkaReadError(f"topic {topic!r} was not read to its end in {timeout_s} s")
            for batch in reader.poll(timeout_ms=500).values():
                records.extend(
                    KafkaRecord(
                        r.partition, r.offset, r.timestamp, r.key, r.value, tuple(r.headers or ())
                    )
                    for r in batch
                    if r.offset < ends[TopicPartition(topic, r.partition)]
                )
        return TopicContents(records, {tp.partition: offset for tp, offset in starts.items()})
    finally:
        reader.close()


@dataclass(frozen=True)
class OffsetsSeen:
    committed: dict[int, int]
    ends: dict[int, int]

    @property
    def lag(self) -> int:
        return sum(max(0, end - self.committed.get(p, 0)) for p, end in self.ends.items())

    @property
    def drained(self) -> bool:
        return self.lag == 0


def wait_until_drained(
    bootstrap: str | Sequence[str],
    topic: str,
    group: str,
    timeout_s: float,
    *,
    settle_s: float,
    progress: Callable[[str], None] | None = None,
    up_to: Mapping[int, int] | None = None,
    poll_interval_s: float = POLL_INTERVAL_S,
    security: KafkaSecurity = PLAINTEXT_SECURITY,
) -> OffsetsSeen:
    """Bounded wait until ``group`` has committed every partition of ``topic`` up to ``up_to``
    (partition → offset; by default the topic's end offsets, asked anew at each poll) and
    neither moved for ``settle_s`` (a producer still publishing restarts the clock). A Kafka
    error while asking (a partition's leadership moving off a dead broker) is reported and
    asked again, within the same bound. ``progress`` (if given) hears how far it is."""
    report = progress or (lambda _message: None)
    reader = consumer(bootstrap, group, security)
    try:
        partitions = partitions_of(reader, topic)
        start = time.monotonic()
        last_report = start
        drained_since: float | None = None
        drained_state: OffsetsSeen | None = None
        seen = OffsetsSeen({}, {})
        while True:
            now = time.monotonic()
            try:
                ends = dict(up_to) if up_to is not None else end_offsets_of(reader, partitions)
                committed = {tp.partition: committed_offset(reader, tp) for tp in partitions}
            except KafkaError as error:
                if now - start > timeout_s:
                    raise
                report(f"asking Kafka again after {type(error).__name__}: {error}")
                drained_since = drained_state = None
                time.sleep(poll_interval_s)
                continue
            seen = OffsetsSeen({p: o for p, o in committed.items() if o is not None}, ends)
            if not seen.drained or seen != drained_state:
                drained_since, drained_state = (now, seen) if seen.drained else (None, None)
            if drained_since is not None and now - drained_since >= settle_s:
                report(
                    f"drained: {sum(ends.values()):,} records, all committed "
                    f"(drained after {drained_since - start:.1f} s of waiting)"
                )
                return seen
            if now - start > timeout_s:
                raise KafkaReadError(
                    f"group {group!r} still {seen.lag:,} records behind on {topic!r} after "
                    f"{timeout_s:.0f} s (committed {seen.committed}, end {seen.ends})"
                )
            if now - last_report >= PROGRESS_INTERVAL_S:
                last_report = now
                report(
                    f"waiting for the topology: {seen.lag:,} of {sum(ends.values()):,} records "
                    f"not yet committed by {group!r} ({now - start:.0f} s)"
                )
            time.sleep(poll_interval_s)
    finally:
        reader.close()
