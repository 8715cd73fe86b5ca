"""The pipeline's metrics files: written by a component process, read back with prometheus_client's
parser (and promtool's linter) as the node exporter's textfile collector would."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from lendstream.pipeline.textfile_metrics import (
    PipelineMetrics,
    metrics_file,
    remove_stale_files,
)

OUTCOMES = ("approve", "decline", "rejected", "review")


def samples(path: Path) -> list[Sample]:
    text = path.read_text(encoding="utf-8")
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(path: Path, name: str, **labels: str) -> float:
    found = [
        s.value for s in samples(path) if s.name == name and labels.items() <= s.labels.items()
    ]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_without_a_directory_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    metrics = PipelineMetrics("", "save", 0, outcomes=OUTCOMES)
    metrics.stored(["approve"], [time.time() * 1000])
    metrics.replayed()
    metrics.close()
    assert not metrics.enabled
    assert list(tmp_path.iterdir()) == []


def test_decisions_latency_and_replays_are_read_back(tmp_path: Path) -> None:
    previous = os.umask(0o027)  # the Storm units' umask: the exporter must still read the file
    try:
        metrics = PipelineMetrics(str(tmp_path), "save", 2, interval_s=0.0, outcomes=OUTCOMES)
        now_ms = time.time() * 1000
        metrics.stored(
            ["approve", "approve", "rejected"], [now_ms - 40.0, now_ms - 700.0, now_ms - 3000.0]
        )
        metrics.replayed(2)
    finally:
        os.umask(previous)
    path = metrics_file(tmp_path, "save", os.getpid())
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    labels = {"component": "save", "task": "2", "pid": str(os.getpid())}
    total = "lendstream_pipeline_decisions_total"
    assert value(path, total, **labels, outcome="approve") == 2
    assert value(path, total, **labels, outcome="rejected") == 1
    assert value(path, total, **labels, outcome="review") == 0  # known outcomes start at zero
    latency = "lendstream_pipeline_end_to_end_seconds"
    assert value(path, f"{latency}_count", **labels) == 3
    assert 3.7 <= value(path, f"{latency}_sum", **labels) < 4.0
    assert value(path, f"{latency}_bucket", **labels, le="0.025") == 0
    assert value(path, f"{latency}_bucket", **labels, le="0.05") == 1
    assert value(path, f"{latency}_bucket", **labels, le="1.0") == 2
    assert value(path, f"{latency}_bucket", **labels, le="5.0") == 3
    assert value(path, "lendstream_pipeline_batches_replayed_total", **labels) == 2
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing (bin/bootstrap installs Debian's prometheus)"
    lint = subprocess.run(
        [promtool, "check", "metrics"],
        input=path.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_writes_wait_for_the_interval_but_not_the_last_one(tmp_path: Path) -> None:
    metrics = PipelineMetrics(str(tmp_path), "save", 0, interval_s=3600.0)
    path = metrics_file(tmp_path, "save", os.getpid())
    assert samples(path)  # written at start: the series exist from the first scrape
    metrics.stored(["decline"], [time.time() * 1000])
    assert not [s for s in samples(path) if s.labels.get("outcome") == "decline"]
    metrics.close()
    assert value(path, "lendstream_pipeline_decisions_total", outcome="decline") == 1


WRITER = """
import sys
from lendstream.pipeline.textfile_metrics import PipelineMetrics
metrics = PipelineMetrics(sys.argv[1], "kafka", int(sys.argv[2]))
metrics.replayed()
"""


def test_a_gone_process_file_is_removed_by_the_next_writer(tmp_path: Path) -> None:
    def writer(task: int) -> int:
        run = subprocess.run(
            [sys.executable, "-c", WRITER, str(tmp_path), str(task)], check=True, timeout=60
        )
        assert run.returncode == 0
        files = {p.name for p in tmp_path.glob("*.prom")}
        return len(files)

    assert writer(0) == 1  # its file stays after it exits (written at exit)
    (tmp_path / "other.prom").write_text("")  # not ours: left alone
    first = next(tmp_path.glob("lendstream-*.prom"))
    assert value(first, "lendstream_pipeline_batches_replayed_total", task="0") == 1
    assert writer(1) == 2  # the first process is gone: its file went, the second's stays
    assert not first.exists()
    second = next(tmp_path.glob("lendstream-kafka-*.prom"))
    live = metrics_file(tmp_path, "save", os.getpid())
    live.write_text("")
    assert remove_stale_files(tmp_path) == [second]
    assert live.exists()  # this process still runs


def test_two_processes_never_write_the_same_series(tmp_path: Path) -> None:
    paths = []
    for component in ("save", "kafka"):
        metrics = PipelineMetrics(str(tmp_path), component, 0, outcomes=OUTCOMES)
        metrics.close()
        paths.append(metrics.path)
    series = [(s.name, tuple(sorted(s.labels.items()))) for path in paths for s in samples(path)]
    assert len(series) == len(set(series))


def test_an_unwritable_directory_is_reported_once_and_tried_again(tmp_path: Path) -> None:
    directory = tmp_path / "not-yet"
    errors: list[str] = []
    metrics = PipelineMetrics(str(directory), "save", 0, interval_s=0.0, on_error=errors.append)
    metrics.stored(["approve"], [time.time() * 1000])
    assert len(errors) == 1
    assert str(directory) in errors[0]
    directory.mkdir()  # the node exporter's role created it
    metrics.stored(["approve"], [time.time() * 1000])
    metrics.close()
    assert value(metrics.path, "lendstream_pipeline_decisions_total", outcome="approve") == 2
