"""What the pipeline exporter reads from Kafka, one round at a time (lendstream.kafka_topics's
bounded consumers; never a member of any group, so it disturbs no one).

- The topology's progress: per partition of the applicant topic, its group's committed offset
  (every record before it is stored or dead-lettered) and the lag, the end offset minus it (a
  partition the group has not committed yet lags from its first offset still held).
- Its dead letters, by stage: the dead-letter topic read from its start once, then only what is
  new each round. The topology delivers dead letters at least once, so copies of one (same
  source topic, partition and offset) count once; a record that is not a dead letter counts
  under the stage ``unreadable``.
- How far behind its progress is: for each partition that lags, the Kafka timestamp of the record
  just before the committed offset (the newest committed applicant), one bounded fetch each.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition

from lendstream.kafka_topics import (
    committed_offset,
    consumer,
    end_offsets_of,
    partitions_of,
)
from lendstream.pipeline.dead_letter import STAGES
from lendstream.services.pipeline_exporter.settings import ExporterSettings

UNREADABLE_STAGE = "unreadable"
POLL_TIMEOUT_MS = 500
SourceId = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class Progress:
    """The topology's committed offset and lag, by partition of the applicant topic."""

    committed: dict[int, int]
    lag: dict[int, int]
    starts: dict[int, int] = field(default_factory=dict)  # the first offset each still holds


@dataclass
class DeadLetterCount:
    """Distinct dead letters by stage, from the topic's start up to ``positions``."""

    by_stage: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(STAGES, 0)))
    seen: set[SourceId] = field(default_factory=set)
    positions: dict[int, int] = field(default_factory=dict)  # partition → next offset to read
    caught_up: bool = False  # read once up to the end offsets of the first round

    def add(self, value: bytes | None) -> None:
        try:
            letter = json.loads(value or b"")
            source = letter["source"]
            source_id = (str(source["topic"]), int(source["partition"]), int(source["offset"]))
            stage = str(letter["stage"])
        except (ValueError, KeyError, TypeError):
            self.by_stage[UNREADABLE_STAGE] += 1
            return
        if source_id not in self.seen:
            self.seen.add(source_id)
            self.by_stage[stage] += 1


class PipelineReader:
    """Reads the topology's progress and its new dead letters; its consumers live across rounds
    (``close`` drops them: the next round connects again)."""

    def __init__(self, settings: ExporterSettings) -> None:
        self.settings = settings
        self.dead_letters = DeadLetterCount()
        self._offsets: KafkaConsumer | None = None
        self._letters: KafkaConsumer | None = None
        self._stamps: KafkaConsumer | None = None

    def progress(self) -> Progress:
        if self._offsets is None:
            self._offsets = consumer(
                self.settings.kafka_bootstrap, self.settings.group, self.settings.kafka_security
            )
        reader = self._offsets
        partitions = partitions_of(reader, self.settings.topic)
        ends = end_offsets_of(reader, partitions)
        firsts = reader.beginning_offsets(partitions)
        starts = {tp.partition: offset for tp, offset in firsts.items()}
        committed: dict[int, int] = {}
        lag: dict[int, int] = {}
        for partition in partitions:
            number = partition.partition
            offset = committed_offset(reader, partition)
            if offset is not None:
                committed[number] = offset
            lag[number] = max(0, ends[number] - (starts[number] if offset is None else offset))
        return Progress(committed, lag, starts)

    def read_new_dead_letters(self, budget_s: float) -> DeadLetterCount:
        """Reads the dead letters written since the last round, up to the end offsets seen now
        (within ``budget_s``: what is left is read next round)."""
        if self._letters is None:
            self._letters = consumer(
                self.settings.kafka_bootstrap, security=self.settings.kafka_security
            )
        reader = self._letters
        partitions = partitions_of(reader, self.settings.dead_letter_topic)
        count = self.dead_letters
        if set(partitions) != reader.assignment():
            reader.assign(partitions)
            for partition in partitions:  # where an earlier consumer stopped, else the start
                if partition.partition in count.positions:
                    reader.seek(partition, count.positions[partition.partition])
                else:
                    reader.seek_to_beginning(partition)
        ends = end_offsets_of(reader, partitions)
        deadline = time.monotonic() + budget_s
        while any(reader.position(p) < ends[p.partition] for p in partitions):
            if time.monotonic() > deadline:
                return count
            for partition, records in reader.poll(timeout_ms=POLL_TIMEOUT_MS).items():
                for record in records:
                    count.add(record.value)
                    count.positions[partition.partition] = record.offset + 1
        count.caught_up = True
        return count

    def newest_committed_timestamps(self, progress: Progress, budget_s: float) -> dict[int, int]:
        """Partition → Kafka timestamp (ms) of the record just before its committed offset, for
        the partitions that lag and still hold that record; those not read within ``budget_s``
        are left out."""
        wanted = {
            number: offset - 1
            for number, offset in progress.committed.items()
            if progress.lag.get(number, 0) > 0 and offset - 1 >= progress.starts.get(number, 0)
        }
        if not wanted:
            return {}
        if self._stamps is None:
            self._stamps = consumer(
                self.settings.kafka_bootstrap, security=self.settings.kafka_security
            )
        reader = self._stamps
        partitions = {n: TopicPartition(self.settings.topic, n) for n in wanted}
        reader.assign(list(partitions.values()))
        reader.resume(*partitions.values())  # paused once read, in an earlier round
        for number, partition in partitions.items():
            reader.seek(partition, wanted[number])
        found: dict[int, int] = {}
        deadline = time.monotonic() + budget_s
        while len(found) < len(wanted) and time.monotonic() < deadline:
            for partition, records in reader.poll(timeout_ms=POLL_TIMEOUT_MS).items():
                for record in records:
                    if record.offset == wanted[partition.partition] and record.timestamp >= 0:
                        found[partition.partition] = record.timestamp
                if records:  # the wanted record, or past it (a transaction marker): done
                    found.setdefault(partition.partition, -1)
                    reader.pause(partition)
        return {number: stamp for number, stamp in found.items() if stamp >= 0}

    def close(self) -> None:
        for reader in (self._offsets, self._letters, self._stamps):
            if reader is not None:
                reader.close()
        self._offsets = self._letters = self._stamps = None
