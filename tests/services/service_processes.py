"""Running the services as real processes in tests: gunicorn subprocesses and their health
(spawning, stopping and free ports are tests/local_processes)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests
from local_processes import running as running_command
from local_processes import tail

REPOSITORY = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


@contextmanager
def running(
    module: str, env: Mapping[str, str], log_path: Path, health_url: str | None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python -m module`` for the block; wait (bounded) for ``health_url`` to answer."""
    command = [sys.executable, "-m", module]
    with running_command(command, log_path, env=env, cwd=REPOSITORY) as process:
        if health_url is not None:
            wait_until_answering(health_url, process, log_path)
        yield process


def wait_until_answering(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: server exited {process.returncode}: {tail(log_path)}")
        try:
            requests.get(url, timeout=2)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {START_TIMEOUT_S:.0f} s: {tail(log_path)}")
