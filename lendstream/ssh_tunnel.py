"""Reach a port a node serves on its loopback only, from the controller: ``ssh -N -L``.

The HBase Thrift servers listen on 127.0.0.1 of their node (happybase speaks neither TLS nor SASL,
docs/security.md): a tool on the controller that must talk to one forwards a local port to the
node's loopback over the SSH connection Ansible uses (:func:`ansible_ssh_args` builds ssh's
arguments from a host's inventory variables; the simulated cluster's are ``-F <its ssh_config>``
and the node's name). Plain OpenSSH, no library: ``ExitOnForwardFailure`` makes ssh exit when the
local port cannot be bound, ``BatchMode`` when it would prompt, and the wait for the local port is
bounded. The tunnel closes when the ``with`` block ends.

    with local_forward(["-F", "ssh_config", "m1"], 9090) as port:
        happybase.Connection("127.0.0.1", port)
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

OPEN_TIMEOUT_S = 20.0  # ssh's connect, authentication and the local listener
STOP_TIMEOUT_S = 5.0
POLL_S = 0.1


class TunnelError(RuntimeError):
    """The tunnel did not open in time (ssh's own message when it exited)."""


def ansible_ssh_args(variables: Mapping[str, Any], name: str) -> list[str]:
    """ssh's options and destination for inventory host ``name`` as Ansible's ssh connection
    reaches it: ``ansible_ssh_common_args`` and ``ansible_ssh_extra_args`` (split as a shell
    would), ``ansible_ssh_private_key_file``, ``ansible_port``, ``ansible_user``, then
    ``ansible_host`` (else the name)."""
    args = [
        *shlex.split(str(variables.get("ansible_ssh_common_args") or "")),
        *shlex.split(str(variables.get("ansible_ssh_extra_args") or "")),
    ]
    if key := variables.get("ansible_ssh_private_key_file"):
        args += ["-i", str(key)]
    if port := variables.get("ansible_port"):
        args += ["-p", str(port)]
    if user := variables.get("ansible_user"):
        args += ["-l", str(user)]
    return [*args, str(variables.get("ansible_host") or name)]


def _free_local_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=POLL_S):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def local_forward(
    ssh_args: Sequence[str],
    remote_port: int,
    *,
    remote_host: str = "127.0.0.1",
    timeout_s: float = OPEN_TIMEOUT_S,
) -> Iterator[int]:
    """Forward a free port of the controller's 127.0.0.1 to ``remote_host:remote_port`` as the
    destination of ``ssh_args`` (options, then the destination last) sees it; yields the local
    port once it accepts connections (within ``timeout_s``, else :class:`TunnelError`)."""
    local_port = _free_local_port()
    argv = [
        "ssh",
        *("-N", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes"),
        *("-L", f"127.0.0.1:{local_port}:{remote_host}:{remote_port}"),
        *ssh_args,
    ]
    # Its own process group: closing the tunnel ends ssh and what it started (a ProxyCommand).
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while not _accepts(local_port):
            if process.poll() is not None:
                message = (process.stderr.read() if process.stderr else "").strip()
                raise TunnelError(
                    f"ssh {shlex.join(ssh_args)} exited {process.returncode} before forwarding "
                    f"port {local_port} to {remote_host}:{remote_port}: {message[-800:]}"
                )
            if time.monotonic() > deadline:
                raise TunnelError(
                    f"ssh {shlex.join(ssh_args)}: port {local_port} not forwarded to "
                    f"{remote_host}:{remote_port} within {timeout_s:.0f} s"
                )
            time.sleep(POLL_S)
        yield local_port
    finally:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
        if process.stderr:
            process.stderr.close()


def _signal_group(process: subprocess.Popen[str], signal_number: int) -> None:
    """Signal the tunnel's process group (ssh's, made for it), if anything of it is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal_number)
