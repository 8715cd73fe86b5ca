"""At-least-once offset bookkeeping for a spout that emits one tuple per batch of records.

A batch may hold records of several partitions; within each partition, batches are emitted in
offset order and tracked until acknowledged. The offset to commit for a partition is the end of
the longest *contiguous* prefix of its acknowledged batches: a batch acked out of order waits for
those before it, so a crash never skips a record that was not stored. A failed batch is handed
back for re-emission with the same id and the same records: at once the first time, then after a
delay that doubles with each failure up to :data:`MAX_REPLAY_DELAY_S`, so a batch failing for a
systemic reason (every risk service down, HBase unavailable) is retried until the cause goes away
without spinning (nor re-publishing its malformed records' dead letters many times a second).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FIRST_REPLAY_DELAY_S = 0.5  # before the second replay; doubles with each further failure
MAX_REPLAY_DELAY_S = 10.0


def replay_delay(attempts: int) -> float:
    """How long a batch about to be delivered for the ``attempts``-th time waits first."""
    if attempts <= 2:
        return 0.0
    return min(FIRST_REPLAY_DELAY_S * 2 ** (attempts - 3), MAX_REPLAY_DELAY_S)


@dataclass
class Batch:
    batch_id: str
    # partition → (first offset, one past the last offset: the commit point once acked)
    ranges: dict[int, tuple[int, int]]
    records: Sequence[Any]
    acked: bool = False
    attempts: int = 1
    replay_at: float = 0.0  # monotonic time before which a failed batch is not emitted again


@dataclass
class _PartitionLog:
    committed: int | None  # the offset last committed (next to read), None if never
    batches: deque[Batch] = field(default_factory=deque)
    high: int = -1  # end of the last emitted batch's range
    ready: int | None = None  # end of the contiguous acked prefix, to be committed


class OffsetLedger:
    """Pending batches of every partition a spout task owns."""

    def __init__(self) -> None:
        self._partitions: dict[int, _PartitionLog] = {}
        self._by_id: dict[str, Batch] = {}
        self._replay: deque[Batch] = deque()
        self._sequence = 0

    def __len__(self) -> int:
        """How many batches are emitted and not yet acknowledged."""
        return len(self._by_id)

    def start_partition(self, partition: int, committed: int | None) -> None:
        self._partitions[partition] = _PartitionLog(committed=committed)

    def new_batch(self, by_partition: Mapping[int, Sequence[tuple[int, Any]]]) -> Batch:
        """Register the next batch: per partition, (offset, record) in increasing offset order."""
        ranges = {}
        for partition, entries in by_partition.items():
            if not entries:
                continue
            first, last = entries[0][0], entries[-1][0]
            high = self._partitions[partition].high
            if first < high or last < first:
                raise ValueError(
                    f"partition {partition}: batch {first}..{last} is not after offset {high}"
                )
            ranges[partition] = (first, last + 1)
        if not ranges:
            raise ValueError("a batch needs at least one record")
        self._sequence += 1
        batch_id = f"{self._sequence}@" + ",".join(
            f"{p}:{first}-{end - 1}" for p, (first, end) in sorted(ranges.items())
        )
        batch = Batch(
            batch_id=batch_id,
            ranges=ranges,
            records=[record for entries in by_partition.values() for _, record in entries],
        )
        for partition, (_, end) in ranges.items():
            log = self._partitions[partition]
            log.batches.append(batch)
            log.high = end
        self._by_id[batch_id] = batch
        return batch

    def ack(self, batch_id: str) -> None:
        batch = self._by_id.pop(batch_id, None)
        if batch is not None:  # unknown: acked twice, or from before a restart
            batch.acked = True

    def fail(self, batch_id: str, now: float | None = None) -> None:
        batch = self._by_id.get(batch_id)
        if batch is not None and not batch.acked:
            batch.attempts += 1
            now = time.monotonic() if now is None else now
            batch.replay_at = now + replay_delay(batch.attempts)
            self._replay.append(batch)

    def next_replay(self, now: float | None = None) -> Batch | None:
        """A failed batch due to be emitted again (same id, same records), oldest first."""
        now = time.monotonic() if now is None else now
        for batch in list(self._replay):
            if self._by_id.get(batch.batch_id) is not batch:
                self._replay.remove(batch)  # acked meanwhile, or failed twice: already queued
            elif batch.replay_at <= now:
                self._replay.remove(batch)
                return batch
        return None

    def commit_points(self) -> dict[int, int]:
        """Partitions whose contiguous acked prefix advanced → the offset to commit now.

        Until :meth:`committed` confirms them, the same points are returned again.
        """
        advanced = {}
        for partition, log in self._partitions.items():
            while log.batches and log.batches[0].acked:
                log.ready = log.batches.popleft().ranges[partition][1]
            if log.ready is not None and log.ready != log.committed:
                advanced[partition] = log.ready
        return advanced

    def committed(self, points: dict[int, int]) -> None:
        """Record that ``points`` (from :meth:`commit_points`) reached Kafka."""
        for partition, offset in points.items():
            self._partitions[partition].committed = offset


class RecordBuffer:
    """Records polled but not emitted yet: a batch is ready at ``max_records``, or once its first
    record has waited ``linger_s``, or at once when the caller says the topology is idle
    (``eager``: few batches in flight). So batching adapts to the load: at low load each poll
    goes out at once in a small batch, under load batches fill while the stages are busy."""

    def __init__(self, max_records: int, linger_s: float) -> None:
        self.max_records = max_records
        self.linger_s = linger_s
        self._by_partition: dict[int, list[tuple[int, Any]]] = {}
        self._count = 0
        self._first_at = 0.0

    def __len__(self) -> int:
        return self._count

    @property
    def room(self) -> int:
        return max(0, self.max_records - self._count)

    def add(self, partition: int, entries: Sequence[tuple[int, Any]], now: float) -> None:
        if not entries:
            return
        if self._count == 0:
            self._first_at = now
        self._by_partition.setdefault(partition, []).extend(entries)
        self._count += len(entries)

    def ready(self, now: float, *, eager: bool = False) -> bool:
        return self._count >= self.max_records or (
            self._count > 0 and (eager or now - self._first_at >= self.linger_s)
        )

    def take(self) -> dict[int, list[tuple[int, Any]]]:
        """The buffered records by partition (for :meth:`OffsetLedger.new_batch`); empties it."""
        taken, self._by_partition, self._count = self._by_partition, {}, 0
        return taken
