"""Bounded replays of a batch that keeps failing because of a record in it (a poison pill).

A batch the risk service refuses without naming the applicant at fault (HTTP 400, 413, or a 422
that blames the request as a whole) would be refused on every replay, and its partition would
never move on. The score bolt counts such *record-caused* failures per batch; after
``poison_batch_failures`` of them the next delivery of the batch is split in halves, each half
scored on its own, down to the single applicants the risk service still refuses alone: those,
and only those, become dead letters (stage ``score``, the refusal as reason); the others are
scored and stored as usual, and the batch is acknowledged, so its offsets are committed.

Systemic failures (no risk service reachable, 5xx, 401/403, a Storm message timeout) are never
counted: they are replayed until the cause goes away, and never dead-letter anything.

The count lives in the score task's memory, keyed by a digest of the packed batch (a replay
carries the same records, hence the same text); the topology routes a batch to its score task
by the same text (fields grouping), so replays of one batch meet the same count. A restarted
worker starts counting again from zero: still bounded.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

DEFAULT_POISON_BATCH_FAILURES = 3
REMEMBERED_BATCHES = 4096  # failing batches tracked at once (oldest forgotten first)


def batch_key(packed: str) -> bytes:
    """A short digest identifying a batch by its packed text."""
    return hashlib.blake2b(packed.encode("utf-8"), digest_size=16).digest()


class FailureCounts:
    """Record-caused failures of each batch seen by one task, up to ``capacity`` batches."""

    def __init__(self, limit: int, capacity: int = REMEMBERED_BATCHES) -> None:
        if limit < 0:
            raise ValueError(f"poison_batch_failures must be 0 or more, not {limit}")
        self.limit = limit
        self.capacity = capacity
        self._counts: OrderedDict[bytes, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._counts)

    def count(self, key: bytes) -> int:
        return self._counts.get(key, 0)

    def should_split(self, key: bytes) -> bool:
        """Has this batch failed ``limit`` times for a record's sake already?"""
        return self.count(key) >= self.limit

    def failed(self, key: bytes) -> int:
        """Count one more record-caused failure of the batch; returns its count."""
        count = self._counts.pop(key, 0) + 1
        self._counts[key] = count
        while len(self._counts) > self.capacity:
            self._counts.popitem(last=False)
        return count

    def done(self, key: bytes) -> None:
        """The batch went through (or was split and settled): forget it."""
        self._counts.pop(key, None)
