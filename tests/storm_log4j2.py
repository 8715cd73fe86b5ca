"""A Java probe (a single source file) run on the log4j2 of a Storm home that the storm role
rendered: its log4j2/<config> loaded by the jars of <lib> (lib/ for the daemons, lib-worker/ for
the workers), with the system properties Storm launches a worker with, so worker.xml writes under
<artifacts>/<topology id>/<port>/worker.log*."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

PROBE_TIMEOUT_S = 120.0
TOPOLOGY_ID = "logprobe-1-1"
WORKER_PORT = "6700"


def run_probe(
    storm_home: Path, config: str, lib: str, source: Path, *, artifacts: Path, args: Sequence[str]
) -> subprocess.CompletedProcess[str]:
    """Runs ``source`` with ``args``; asserts that it exits 0 and that log4j2's status logger
    reported no error (it does so on stderr for a configuration it cannot use)."""
    result = subprocess.run(
        [
            "java",
            f"-Dlog4j.configurationFile={storm_home / 'log4j2' / config}",
            f"-Dworkers.artifacts={artifacts}",
            f"-Dstorm.id={TOPOLOGY_ID}",
            f"-Dworker.port={WORKER_PORT}",
            "-Dlogfile.name=worker.log",
            "-cp",
            f"{storm_home / lib}/*",
            str(source),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "ERROR" not in result.stderr, result.stderr[-2000:]
    return result


def worker_dir(artifacts: Path) -> Path:
    """Where worker.xml put the probe's worker.log files."""
    return artifacts / TOPOLOGY_ID / WORKER_PORT
