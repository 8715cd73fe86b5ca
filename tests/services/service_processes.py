"""Running the services as real processes in tests: free ports, gunicorn subprocesses, waits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

REPOSITORY = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment plus ``extra``, with no LENDSTREAM_ variable leaking in."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("LENDSTREAM_")}
    return {**base, **extra}


@contextmanager
def running(
    module: str, env: Mapping[str, str], log_path: Path, health_url: str | None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python -m module`` for the block; wait (bounded) for ``health_url`` to answer."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            env=dict(env),
            cwd=REPOSITORY,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if health_url is not None:
            wait_until_answering(health_url, process, log_path)
        yield process
    finally:
        stop(process)


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


def stop(process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """SIGTERM the process (gunicorn's master shuts its workers down), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout_s)


def tail(path: Path, characters: int = 3000) -> str:
    return path.read_text(errors="replace")[-characters:] if path.exists() else "(no log)"
