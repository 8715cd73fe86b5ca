"""Helpers for the artifact-bundle tests: free ports and JVM processes that are always stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class JavaProcess:
    """A JVM started from a bundle, its output in a log file, killed with its process group."""

    def __init__(
        self, command: list[str], log_path: Path, cwd: Path, env: dict[str, str] | None = None
    ) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


def run_java(command: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def wait_until(condition: object, timeout: float, what: str, process: JavaProcess) -> None:
    """Poll ``condition()`` until it is true; fail with the JVM's log tail when it is not in time
    or when the JVM died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        if process.process.poll() is not None:
            pytest.fail(f"{what}: JVM exited {process.process.returncode}\n{process.log_tail()}")
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout:.0f} s\n{process.log_tail()}")
