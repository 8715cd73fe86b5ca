"""At-least-once offset bookkeeping for a spout that emits one tuple per batch of records.

Per partition, batches are emitted in offset order and tracked until acknowledged. The offset
to commit is the end of the longest *contiguous* prefix of acknowledged batches: a batch acked
out of order waits for those before it, so a crash never skips a record that was not stored.
A failed batch is handed back for re-emission with the same id and the same records.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Batch:
    batch_id: str
    partition: int
    first_offset: int
    next_offset: int  # one past the last record's offset: the commit point once acked
    records: Sequence[Any]
    acked: bool = False
    attempts: int = 1


@dataclass
class _PartitionLog:
    committed: int | None  # the offset last committed (next to read), None if never
    batches: deque[Batch] = field(default_factory=deque)
    high: int = -1  # next_offset of the last emitted batch
    ready: int | None = None  # end of the contiguous acked prefix, to be committed


class OffsetLedger:
    """Pending batches of every partition a spout task owns."""

    def __init__(self) -> None:
        self._partitions: dict[int, _PartitionLog] = {}
        self._by_id: dict[str, Batch] = {}
        self._replay: deque[Batch] = deque()

    def __len__(self) -> int:
        """How many batches are emitted and not yet acknowledged."""
        return len(self._by_id)

    def start_partition(self, partition: int, committed: int | None) -> None:
        self._partitions[partition] = _PartitionLog(committed=committed)

    def new_batch(self, partition: int, offsets_and_records: Sequence[tuple[int, Any]]) -> Batch:
        """Register the next batch read from ``partition`` (records in increasing offset order)."""
        log = self._partitions[partition]
        first = offsets_and_records[0][0]
        last = offsets_and_records[-1][0]
        if first < log.high or last < first:
            raise ValueError(
                f"partition {partition}: batch {first}..{last} is not after offset {log.high}"
            )
        batch = Batch(
            batch_id=f"{partition}:{first}:{last}",
            partition=partition,
            first_offset=first,
            next_offset=last + 1,
            records=[record for _, record in offsets_and_records],
        )
        log.batches.append(batch)
        log.high = batch.next_offset
        self._by_id[batch.batch_id] = batch
        return batch

    def ack(self, batch_id: str) -> None:
        batch = self._by_id.pop(batch_id, None)
        if batch is not None:  # unknown: acked twice, or its partition was reset
            batch.acked = True

    def fail(self, batch_id: str) -> None:
        batch = self._by_id.get(batch_id)
        if batch is not None and not batch.acked:
            batch.attempts += 1
            self._replay.append(batch)

    def next_replay(self) -> Batch | None:
        """A failed batch to emit again (same id, same records), oldest first."""
        while self._replay:
            batch = self._replay.popleft()
            if self._by_id.get(batch.batch_id) is batch:
                return batch
        return None

    def commit_points(self) -> dict[int, int]:
        """Partitions whose contiguous acked prefix advanced → the offset to commit now.

        Until :meth:`committed` confirms them, the same points are returned again.
        """
        advanced = {}
        for partition, log in self._partitions.items():
            while log.batches and log.batches[0].acked:
                log.ready = log.batches.popleft().next_offset
            if log.ready is not None and log.ready != log.committed:
                advanced[partition] = log.ready
        return advanced

    def committed(self, points: dict[int, int]) -> None:
        """Record that ``points`` (from :meth:`commit_points`) reached Kafka."""
        for partition, offset in points.items():
            self._partitions[partition].committed = offset
