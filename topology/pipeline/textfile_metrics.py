"""The pipeline's own metrics, for the node exporter's textfile collector.

The topology's components are multilang Python processes inside Storm workers: none serves an
HTTP port. Each keeps its own :class:`~prometheus_client.CollectorRegistry` and writes it to
``<directory>/lendstream-<component>-<pid>.prom`` (``TopologyConf.metrics_dir``; empty: nothing
is written) with prometheus_client's ``write_to_textfile`` (a temporary file, then a rename),
at most every ``interval_s`` seconds when something changed, and at exit. The node exporter on the
same node serves every such file on its ``/metrics``.

Every series carries ``component``, ``task`` and ``pid`` labels, so two files never hold the same
series (the collector refuses duplicates). A process that ends leaves its file behind, frozen:
each writer, when it starts, removes the ``lendstream-*-<pid>.prom`` files whose process no longer
exists, so a restarted worker's new processes clear their predecessors'. Counters start at zero in
each new process: query them with ``rate``/``increase``, which tolerate resets (docs/monitoring.md).

Metrics (names and meaning: docs/monitoring.md):

- ``lendstream_pipeline_decisions_total{outcome}`` — applicants stored in HBase, by decision
  (the save bolt, after the write succeeded);
- ``lendstream_pipeline_end_to_end_seconds`` — Kafka record timestamp → row stored in HBase, one
  observation per applicant stored;
- ``lendstream_pipeline_batches_replayed_total`` — batches the spout was told failed (each one is
  emitted again).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, write_to_textfile

# Tens of milliseconds (an idle pipeline) to tens of seconds (a replay after a bolt's retries).
END_TO_END_BUCKETS_S = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
DEFAULT_INTERVAL_S = 5.0
FILE_PREFIX = "lendstream-"
_FILE_PID = re.compile(r"^lendstream-.+-(\d+)\.prom$")
LABELS = ("component", "task", "pid")


def metrics_file(directory: str | Path, component: str, pid: int) -> Path:
    return Path(directory) / f"{FILE_PREFIX}{component}-{pid}.prom"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def remove_stale_files(directory: str | Path) -> list[Path]:
    """Remove the ``lendstream-*-<pid>.prom`` files of processes that no longer exist."""
    removed: list[Path] = []
    for path in Path(directory).glob(f"{FILE_PREFIX}*.prom"):
        match = _FILE_PID.match(path.name)
        if match and not _process_exists(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):  # another writer was quicker
                path.unlink()
                removed.append(path)
    return removed


class PipelineMetrics:
    """One component process's metrics; every method is a no-op when ``directory`` is empty.

    Writing never raises: a directory that is missing or not writable (the node exporter not yet
    deployed) is reported once through ``on_error`` and tried again at the next write.
    """

    def __init__(
        self,
        directory: str,
        component: str,
        task: int,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        outcomes: Iterable[str] = (),
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.enabled = bool(directory)
        self.interval_s = interval_s
        self._on_error = on_error
        self._error_reported = False
        self._dirty = False
        self._next_write = 0.0
        self.registry = CollectorRegistry()
        labels = {"component": component, "task": str(task), "pid": str(os.getpid())}
        self.path = metrics_file(directory or ".", component, os.getpid())
        decisions = Counter(
            "lendstream_pipeline_decisions",
            "Applicants stored in HBase, by decision (replays of a batch count again).",
            [*LABELS, "outcome"],
            registry=self.registry,
        )
        self._decisions = decisions
        self._labels = labels
        for outcome in outcomes:  # known outcomes exist from the start, at zero
            decisions.labels(**labels, outcome=outcome)
        self._end_to_end = Histogram(
            "lendstream_pipeline_end_to_end_seconds",
            "Kafka record timestamp to the applicant's row stored in HBase.",
            LABELS,
            buckets=END_TO_END_BUCKETS_S,
            registry=self.registry,
        ).labels(**labels)
        self._replayed = Counter(
            "lendstream_pipeline_batches_replayed",
            "Batches the spout was told failed; each is emitted again.",
            LABELS,
            registry=self.registry,
        ).labels(**labels)
        if self.enabled:
            try:
                remove_stale_files(directory)
            except OSError as error:
                self._report(error)
            self.write()
            atexit.register(self.write)

    def stored(self, outcomes: Iterable[str], kafka_timestamps_ms: Iterable[float]) -> None:
        """Applicants whose rows were just stored: their decisions and end-to-end latencies."""
        if not self.enabled:
            return
        now_ms = time.time() * 1000.0
        # One increment per outcome, not per applicant: a labels() lookup costs about as much as
        # 40 increments (docs/monitoring.md: 14 ms → 0.3 ms for a batch of 500).
        for outcome, count in collections.Counter(outcomes).items():
            self._decisions.labels(**self._labels, outcome=outcome).inc(count)
        for timestamp_ms in kafka_timestamps_ms:
            self._end_to_end.observe(max(0.0, now_ms - timestamp_ms) / 1000.0)
        self._changed()

    def replayed(self, batches: int = 1) -> None:
        if self.enabled:
            self._replayed.inc(batches)
            self._changed()

    def _changed(self) -> None:
        self._dirty = True
        self.write_if_due()

    def write_if_due(self) -> None:
        """Write the file if something changed and the last write is ``interval_s`` old."""
        if self.enabled and self._dirty and time.monotonic() >= self._next_write:
            self.write()

    def write(self) -> None:
        """Write the file now (the component's registry, atomically); never raises."""
        if not self.enabled:
            return
        self._dirty = False
        self._next_write = time.monotonic() + self.interval_s
        # The exporter (another user) reads the file: readable by all whatever the process's
        # umask (the Storm units' is 0027). A component process writes from one thread.
        previous = os.umask(0o022)
        try:
            write_to_textfile(str(self.path), self.registry)
        except OSError as error:
            self._dirty = True
            self._report(error)
        else:
            self._error_reported = False
        finally:
            os.umask(previous)

    def close(self) -> None:
        """Write the file a last time (as at exit)."""
        if self.enabled:
            self.write()
            atexit.unregister(self.write)

    def _report(self, error: OSError) -> None:
        if self._on_error is not None and not self._error_reported:
            self._error_reported = True
            self._on_error(f"pipeline metrics not written to {self.path}: {error}")
