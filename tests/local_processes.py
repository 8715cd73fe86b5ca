"""Loopback ports and child processes for the tests: one home for the free-port probe and for
spawning, waiting on and stopping a process."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at ``host`` now (the OS picks it; free until someone binds it).
    Also a dead endpoint: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
