"""Storm workers' log files stay bounded: the storm role's log4j2/worker.xml, rendered for the
single-machine stack by local-stack.yml with small caps, loaded by the log4j2 of the bundle's
lib-worker/ (the workers' classpath) in a JVM that logs as a worker does (root, STDOUT and STDERR
loggers), rolls each file at the size and keeps no more than the configured gzipped backups."""

from __future__ import annotations

from pathlib import Path

import pytest
from storm_log4j2 import run_probe, worker_dir

from lendstream.stack.layout import StackLayout
from lendstream.stack.render import render_vars, run_render_playbook

pytestmark = pytest.mark.stack

PLAYBOOK_TIMEOUT_S = 300.0
MAX_FILE_SIZE = "4 KB"
MAX_FILE_BYTES = 4 * 1024
MAX_BACKUPS = 2
STDIO_MAX_BACKUPS = 1
LINES = 2000  # ~100 bytes each: some 50 rollovers per file, far past the backups kept

# Logs as a Storm worker does: its own loggers (root), and LogWriter's STDOUT and STDERR loggers
# for what the worker process prints. Stops log4j2 so pending gzip compressions finish.
PROBE_SOURCE = """
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

public class WorkerLogProbe {
    public static void main(String[] args) {
        int lines = Integer.parseInt(args[0]);
        Logger worker = LogManager.getLogger("org.apache.storm.daemon.worker.Worker");
        Logger out = LogManager.getLogger("STDOUT");
        Logger err = LogManager.getLogger("STDERR");
        String filler = "x".repeat(60);
        for (int i = 0; i < lines; i++) {
            worker.info("worker line {} {}", i, filler);
            out.info("stdout line {} {}", i, filler);
            err.info("stderr line {} {}", i, filler);
        }
        LogManager.shutdown();
    }
}
"""


def _render_storm(layout: StackLayout) -> None:
    extra = render_vars(layout, ["storm"])
    extra.update(
        storm_worker_log_max_file_size=MAX_FILE_SIZE,
        storm_worker_log_max_backups=MAX_BACKUPS,
        storm_worker_stdio_log_max_backups=STDIO_MAX_BACKUPS,
    )
    run_render_playbook(layout, extra)


def test_worker_logs_roll_at_the_size_and_keep_the_configured_backups(tmp_path: Path) -> None:
    layout = StackLayout(root=tmp_path / "stack")
    layout.root.mkdir()
    _render_storm(layout)
    storm_home = layout.root / "storm" / "home"
    probe = tmp_path / "WorkerLogProbe.java"
    probe.write_text(PROBE_SOURCE)
    artifacts = tmp_path / "workers-artifacts"
    result = run_probe(
        storm_home, "worker.xml", "lib-worker", probe, artifacts=artifacts, args=[str(LINES)]
    )
    assert "WARN" not in result.stderr, result.stderr[-2000:]

    worker_log_dir = worker_dir(artifacts)
    present = sorted(p.name for p in worker_log_dir.iterdir())
    expected: list[str] = []
    for name, backups in (
        ("worker.log", MAX_BACKUPS),
        ("worker.log.out", STDIO_MAX_BACKUPS),
        ("worker.log.err", STDIO_MAX_BACKUPS),
    ):
        current = worker_log_dir / name
        assert current.is_file(), present
        assert 0 < current.stat().st_size <= MAX_FILE_BYTES, (name, current.stat().st_size)
        expected += [name, *(f"{name}.{index}.gz" for index in range(1, backups + 1))]
    # Exactly the current files and their newest backups: every older one was deleted.
    assert present == sorted(expected)
