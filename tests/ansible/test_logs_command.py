"""`lendstream logs` (make logs) reads a node's log through a real ad-hoc `ansible` call: here
on this machine, through an inventory whose one node is reached with the local connection."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import yaml
from render_playbook import ANSIBLE_DIR

from lendstream import cli
from lendstream.logs import remote_command, storm_log_dir_default


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.yml"
    # No sudo here: the call's --become is turned off for this one node (a cluster node's log
    # needs root; these files do not).
    node = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "ansible_become": False,
    }
    path.write_text(yaml.safe_dump({"all": {"hosts": {"node1": node}}}))
    return path


def write_worker_log(storm_log_dir: Path, topology: str, port: int, lines: list[str]) -> Path:
    path = storm_log_dir / "workers-artifacts" / topology / str(port) / "worker.log"
    path.parent.mkdir(parents=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def logs(*argv: str) -> int:
    return cli.main(["logs", *argv])


def test_storm_worker_prints_the_newest_worker_logs_last_lines(
    inventory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storm_log_dir = tmp_path / "storm"
    older = write_worker_log(storm_log_dir, "pipeline-1-100", 6700, ["old 1", "old 2"])
    newest = write_worker_log(storm_log_dir, "pipeline-2-200", 6701, [f"new {i}" for i in range(9)])
    os.utime(older, (time.time() - 60, time.time() - 60))
    status = logs(
        *("--inventory", str(inventory), "--host", "node1", "--component", "storm-worker"),
        *("--lines", "3", "--storm-log-dir", str(storm_log_dir)),
    )
    assert status == 0
    assert capsys.readouterr().out.splitlines() == [f"==> {newest} <==", "new 6", "new 7", "new 8"]


def test_a_node_without_the_component_says_so(
    inventory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = logs(
        *("--inventory", str(inventory), "--host", "node1", "--component", "storm-worker"),
        *("--storm-log-dir", str(tmp_path / "nothing")),
    )
    assert status == 3
    assert "no worker.log under" in capsys.readouterr().err
    # This machine runs no lendstream-kafka unit (nor, in a container, systemd at all).
    assert logs("--inventory", str(inventory), "--host", "node1", "--component", "kafka") == 3
    assert "no unit lendstream-kafka or kafka on this node" in capsys.readouterr().err


def test_a_host_outside_the_inventory_or_a_bad_name_is_refused(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert logs("--inventory", str(inventory), "--host", "node9", "--component", "kafka") == 1
    assert "node9 is not a host of" in capsys.readouterr().err
    assert logs("--inventory", str(inventory), "--host", "node1", "--component", "x;id") == 1
    assert "not a component name: 'x;id'" in capsys.readouterr().err


def test_units_are_read_from_the_journal_prefixed_first() -> None:
    command = remote_command("hdfs-namenode", 50, "/var/log/lendstream/storm")
    assert "for unit in lendstream-hdfs-namenode hdfs-namenode;" in command
    assert 'journalctl --unit "$unit" --lines 50' in command
    assert "for unit in lendstream-kafka;" in remote_command("lendstream-kafka", 5, "/x")


def test_the_storm_log_dir_is_the_storm_roles_default() -> None:
    defaults = yaml.safe_load((ANSIBLE_DIR / "roles/storm/defaults/main.yml").read_text())
    assert storm_log_dir_default() == defaults["storm_log_dir"] == "/var/log/lendstream/storm"
