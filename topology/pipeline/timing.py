"""Where an applicant's time goes: per-stage samples, written by each component to a side channel.

Every component measures its own stages and appends them, one JSON line per sample, to
``<timing_dir>/<component>-<pid>.jsonl`` (``TopologyConf.timing_dir``; empty: nothing is written).
A line is ``[stage, at_ms, duration_ms, weight]`` — one duration that holds for ``weight``
applicants (a batch's hop or work) — or ``[stage, at_ms, [duration_ms, …]]``, one duration per
record (the spout's Kafka → poll). ``at_ms`` is the epoch time the stage ended, so a reader keeps
the samples of the window it measured. Nothing here touches the tuples' records or the rows: the
at-least-once bookkeeping and the HBase cells are the same with timing on or off.

Hops are measured across processes with epoch milliseconds (``now_ms``): the sender puts its
emit time in the tuple, the receiver subtracts it from the time its ``process`` starts, so a hop
is the multilang encode, the worker JVM's queues and the receiver's decode together.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

# The spout's stages, per record: Kafka record timestamp → polled, polled → emitted in a batch.
SPOUT_POLL_STAGE = "spout: record timestamp → poll"
SPOUT_GATHER_STAGE = "spout: gathering (poll → emit)"


def now_ms() -> float:
    """Epoch time in milliseconds (comparable across processes on one machine)."""
    return time.time() * 1000.0


class TimingLog:
    """Appends stage samples of one process; a no-op when ``directory`` is empty."""

    def __init__(self, directory: str, component: str) -> None:
        self._file: IO[str] | None = None
        if directory:
            path = Path(directory)
            path.mkdir(parents=True, exist_ok=True)
            self._file = (path / f"{component}-{os.getpid()}.jsonl").open("a", encoding="utf-8")

    @property
    def enabled(self) -> bool:
        return self._file is not None

    def record(self, stage: str, duration_ms: float, weight: int = 1) -> None:
        if self._file is not None and weight > 0:
            self._write([stage, round(now_ms(), 1), round(duration_ms, 2), weight])

    def record_each(self, stage: str, durations_ms: Sequence[float]) -> None:
        if self._file is not None and durations_ms:
            self._write([stage, round(now_ms(), 1), [round(d, 1) for d in durations_ms]])

    def _write(self, sample: list[Any]) -> None:
        assert self._file is not None
        self._file.write(json.dumps(sample, separators=(",", ":")) + "\n")
        self._file.flush()  # a reader may look at any time; a line is a few dozen bytes

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class StageSamples:
    """Weighted duration samples of one stage."""

    values: list[tuple[float, int]] = field(default_factory=list)
    start_sum_ms: float = 0.0  # of the samples' start times, to order stages as they happen

    def add(self, duration_ms: float, weight: int = 1, ended_ms: float = 0.0) -> None:
        self.values.append((duration_ms, weight))
        self.start_sum_ms += ended_ms - duration_ms

    @property
    def mean_start_ms(self) -> float:
        return self.start_sum_ms / len(self.values) if self.values else 0.0

    @property
    def weight(self) -> int:
        return sum(weight for _, weight in self.values)

    def percentile(self, fraction: float) -> float:
        """The duration below which ``fraction`` of the (weighted) applicants fall."""
        ordered = sorted(self.values)
        total = sum(weight for _, weight in ordered)
        if not total:
            raise ValueError("no samples")
        threshold = fraction * total
        seen = 0
        for duration, weight in ordered:
            seen += weight
            if seen >= threshold:
                return duration
        return ordered[-1][0]


def read_samples(
    directory: str | Path, since_ms: float, until_ms: float
) -> dict[str, StageSamples]:
    """Every sample in ``directory`` whose stage ended within [since_ms, until_ms], by stage."""
    stages: dict[str, StageSamples] = {}
    for path in sorted(Path(directory).glob("*.jsonl")):
        for line in _complete_lines(path):
            stage, at, duration, *weight = json.loads(line)
            if not since_ms <= at <= until_ms:
                continue
            samples = stages.setdefault(stage, StageSamples())
            if isinstance(duration, list):
                for each in duration:
                    samples.add(float(each), 1, at)
            else:
                samples.add(float(duration), int(weight[0]), at)
    return stages


def _complete_lines(path: Path) -> Iterable[str]:
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    return [line for line in lines[:-1] if line]  # the last piece may be half written
