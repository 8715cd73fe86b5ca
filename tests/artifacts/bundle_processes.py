"""Helpers for the artifact-bundle tests: JVM processes that are always stopped (spawning,
stopping and free ports are tests/local_processes)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from local_processes import spawn, stop
from local_processes import wait_until as wait_until_process


class JavaProcess:
    """A JVM started from a bundle, its output in a log file, killed with its process group."""

    def __init__(
        self, command: list[str], log_path: Path, cwd: Path, env: dict[str, str] | None = None
    ) -> None:
        self.log_path = log_path
        self.process = spawn(command, log_path, env=env, cwd=cwd)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        stop(self.process)


def run_java(command: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, process: JavaProcess
) -> None:
    """Poll ``condition()`` until it is true; fail with the JVM's log tail when it is not in time
    or when the JVM died."""
    wait_until_process(condition, timeout, what, process.process, process.log_path, interval_s=0.5)
