"""lendstream.ssh_tunnel: ssh's arguments from an inventory host's variables, and a tunnel that
cannot open failing in bounded time with ssh's reason (the real OpenSSH client). A tunnel that
opens is exercised against the simulated cluster: tests/infra/test_infra_hbase.py and the hbase
role's table creation."""

from __future__ import annotations

import time

import pytest
from local_processes import free_port

from lendstream.ssh_tunnel import TunnelError, ansible_ssh_args, local_forward


def test_ssh_arguments_follow_the_inventory_variables() -> None:
    variables = {
        "ansible_host": "192.168.61.11",
        "ansible_user": "deploy",
        "ansible_port": 2222,
        "ansible_ssh_private_key_file": "/keys/id ed25519",
        "ansible_ssh_common_args": "-F '/state/ci/ssh config' -o ConnectTimeout=5",
        "ansible_ssh_extra_args": "-o LogLevel=ERROR",
    }
    assert ansible_ssh_args(variables, "m1") == [
        *("-F", "/state/ci/ssh config", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"),
        *("-i", "/keys/id ed25519", "-p", "2222", "-l", "deploy"),
        "192.168.61.11",
    ]
    # Nothing set: ssh's own defaults, the inventory name as the destination.
    assert ansible_ssh_args({}, "m1") == ["m1"]


def test_a_refused_ssh_connection_fails_at_once_with_ssh_s_message() -> None:
    ssh = ["-o", "StrictHostKeyChecking=no", "-p", str(free_port()), "127.0.0.1"]
    started = time.monotonic()
    refused = pytest.raises(TunnelError, match=r"exited 255 .*[Cc]onnection refused")
    with refused, local_forward(ssh, 9090, timeout_s=10):
        pytest.fail("no tunnel can have opened")
    assert time.monotonic() - started < 5


def test_a_tunnel_that_does_not_open_in_time_is_given_up_and_its_ssh_stopped() -> None:
    # The "server" never speaks (a proxy command that only sleeps): no forward ever listens.
    ssh = ["-o", "ProxyCommand=sleep 30", "-o", "ConnectTimeout=30", "unanswering.invalid"]
    started = time.monotonic()
    late = pytest.raises(TunnelError, match=r"not forwarded to 127\.0\.0\.1:9090 within 1 s")
    with late, local_forward(ssh, 9090, timeout_s=1):
        pytest.fail("no tunnel can have opened")
    assert time.monotonic() - started < 1 + 5 + 1  # the bound, then at most the stop's wait
