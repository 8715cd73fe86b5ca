"""Loopback ports, child processes and Thrift servers for the tests: the one home of the
free-port probe and of spawning, polling and stopping a process (each in its own process group,
so stopping it stops its children too)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.rpc import make_server

STOP_TIMEOUT_S = 20.0
LISTEN_TIMEOUT_S = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at ``host`` now (the OS picks it; free until someone binds it).
    Also a dead endpoint: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def is_listening(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment plus ``extra``, with no LENDSTREAM_ variable leaking in."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("LENDSTREAM_")}
    return {**base, **extra}


def spawn(
    command: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in a process group of its own, stdout and stderr into ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            list(command),
            env=None if env is None else dict(env),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the process's group (a server's workers stop with it), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout_s)


def _signal_group(process: subprocess.Popen[bytes], sent: signal.Signals) -> None:
    with suppress(ProcessLookupError):  # it exited meanwhile
        os.killpg(process.pid, sent)


@contextmanager
def running(
    command: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``spawn`` for the block, ``stop`` after it."""
    process = spawn(command, log_path, env=env, cwd=cwd)
    try:
        yield process
    finally:
        stop(process)


def tail(path: Path, characters: int = 3000) -> str:
    return path.read_text(errors="replace")[-characters:] if path.exists() else "(no log)"


def wait_until(
    condition: Callable[[], bool],
    timeout_s: float,
    what: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    *,
    interval_s: float = 0.3,
) -> None:
    """Poll ``condition()`` until true; AssertionError with the log's tail when the process
    exits first or the time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"{what}: exited {process.returncode}\n{tail(log_path)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s\n{tail(log_path)}")
        time.sleep(interval_s)


@contextmanager
def thrift_server(
    service: Any, handler: Any, transport_factory: Any, port: int | None = None
) -> Iterator[int]:
    """A real Thrift server of ``service`` (binary protocol) answering with ``handler`` on a
    loopback port (``port``, or a free one), listening before the block starts; yields the port."""
    port = port or free_port()
    server = make_server(
        service,
        handler,
        "127.0.0.1",
        port,
        proto_factory=TBinaryProtocolFactory(),
        trans_factory=transport_factory,
    )
    threading.Thread(target=server.serve, daemon=True).start()
    try:
        deadline = time.monotonic() + LISTEN_TIMEOUT_S
        while not is_listening("127.0.0.1", port):
            assert time.monotonic() < deadline, f"the Thrift server on {port} did not listen"
            time.sleep(0.05)
        yield port
    finally:
        server.close()
