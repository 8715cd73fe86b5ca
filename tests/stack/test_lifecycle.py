"""up / status / down on a private stack of its own (own directory and ports), so that killing
and stopping daemons here never disturbs the shared stack other tests use."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lendstream.stack import runtime
from lendstream.stack.layout import StackLayout, StackPorts
from lendstream.stack.supervisor import Supervisor, pid_alive, processes_under

pytestmark = [pytest.mark.stack, pytest.mark.mysql]

COMPONENTS = ("mysql", "zookeeper")
STATUS_WAIT_S = 30.0
PORT_OFFSET = 1010  # MariaDB 4317, ZooKeeper 3191: clear of the shared stack's ports
CLI_TIMEOUT_S = 180.0


@pytest.fixture(scope="module")
def private_layout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackLayout]:
    layout = StackLayout(
        root=Path(tmp_path_factory.mktemp("stack")), ports=StackPorts().shifted(PORT_OFFSET)
    )
    yield layout
    runtime.down(layout=layout)


def _cli(layout: StackLayout, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m lendstream.stack …` pointed at the private stack."""
    environment = dict(
        os.environ,
        LENDSTREAM_STACK_DIR=str(layout.root),
        LENDSTREAM_STACK_PORT_OFFSET=str(PORT_OFFSET),
    )
    return subprocess.run(
        [sys.executable, "-m", "lendstream.stack", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def _program_pids(layout: StackLayout) -> dict[str, int]:
    return {
        info["name"]: info["pid"]
        for info in Supervisor(layout).all_info()
        if info["statename"] == "RUNNING"
    }


def test_up_starts_the_components_healthy(private_layout: StackLayout) -> None:
    endpoints = runtime.ensure_up(*COMPONENTS, layout=private_layout)
    assert endpoints.mysql_port == 3307 + PORT_OFFSET
    assert endpoints.zookeeper_connect.endswith(f":{2181 + PORT_OFFSET}")
    report = runtime.status(layout=private_layout)
    assert report["mysql"].ok, report["mysql"].detail
    assert report["zookeeper"].ok, report["zookeeper"].detail
    assert "mode standalone" in report["zookeeper"].detail


def test_up_twice_keeps_the_running_daemons(private_layout: StackLayout) -> None:
    before = _program_pids(private_layout)
    runtime.ensure_up(*COMPONENTS, layout=private_layout)
    assert _program_pids(private_layout) == before
    assert set(before) == {"mysql-server", "zookeeper-server"}


def test_a_killed_daemon_is_reported_unhealthy_and_up_restarts_it(
    private_layout: StackLayout,
) -> None:
    killed = _program_pids(private_layout)["zookeeper-server"]
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + STATUS_WAIT_S
    while pid_alive(killed) and time.monotonic() < deadline:
        time.sleep(0.2)
    report = runtime.status(layout=private_layout)
    assert not report["zookeeper"].ok
    assert report["mysql"].ok
    shown = _cli(private_layout, "status")
    assert shown.returncode == 1
    assert "zookeeper  UNHEALTHY" in shown.stdout
    assert "mysql      healthy" in shown.stdout
    started = _cli(private_layout, "up", *COMPONENTS)
    assert started.returncode == 0, started.stderr
    runtime.ensure_up(*COMPONENTS, layout=private_layout)
    assert runtime.status(layout=private_layout)["zookeeper"].ok
    assert _program_pids(private_layout)["zookeeper-server"] != killed


def test_down_leaves_no_process(private_layout: StackLayout) -> None:
    supervisor = Supervisor(private_layout)
    pids = [*_program_pids(private_layout).values(), supervisor.pid()]
    assert all(pid is not None and pid_alive(pid) for pid in pids)
    stopped = _cli(private_layout, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert [pid for pid in pids if pid is not None and pid_alive(pid)] == []
    assert processes_under(private_layout.root) == []
    report = runtime.status(layout=private_layout)
    assert not any(health.ok for health in report.values())


def test_up_refuses_a_port_another_process_holds(tmp_path: Path) -> None:
    layout = StackLayout(root=tmp_path / "stack", ports=StackPorts(zookeeper=2192))
    with socket.socket() as squatter:
        squatter.bind((layout.host, 2192))
        squatter.listen()
        try:
            with pytest.raises(runtime.StackError) as refused:
                runtime.ensure_up("zookeeper", layout=layout)
        finally:
            runtime.down(layout=layout)
    assert refused.value.component == "zookeeper"
    assert "2192" in refused.value.reason
