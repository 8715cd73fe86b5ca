"""Pid files for the processes the harness starts, checked against /proc before use."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def read_live_pid(pid_file: Path, cmdline_marker: str) -> int | None:
    """The pid in pid_file if that process is alive and its command line has the marker."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    state = _state(pid)
    if cmdline_marker not in cmdline or state in (None, "Z"):
        return None
    return pid


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


_signalled: dict[int, float] = {}


def send_term(pid: int) -> None:
    """SIGTERM, remembered so that terminate() does not send a second one."""
    os.kill(pid, signal.SIGTERM)
    _signalled[pid] = time.monotonic()


def is_alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z")


def wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        time.sleep(0.1)
    return not is_alive(pid)


def terminate(pid: int, timeout_s: float) -> None:
    """SIGTERM (once: a repeated one would cut an orderly poweroff short), wait up to
    timeout_s, then SIGKILL."""
    if _state(pid) is None:
        return
    if _signalled.get(pid) is None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        _signalled[pid] = time.monotonic()
    if not wait_gone(pid, timeout_s):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        wait_gone(pid, 5)


def command_lines() -> list[str]:
    """Every process's command line, arguments joined by spaces."""
    return list(_command_lines_by_pid().values())


def find(*markers: str) -> list[int]:
    """Pids of live processes whose command line contains every marker."""
    return [
        pid
        for pid, line in _command_lines_by_pid().items()
        if all(marker in line for marker in markers) and is_alive(pid)
    ]


def _command_lines_by_pid() -> dict[int, str]:
    lines = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text:
            lines[int(cmdline.parent.name)] = text
    return lines
