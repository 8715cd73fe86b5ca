"""The rolling-restart playbooks list the hosts to restart before their serial play: every host by
hand, only the hosts a deploy play marked when site.yml imports them. The list reads each role's
pending mark, so the mark's name is checked against what the role's handler sets and its
restart.yml reads; and an unmarked run is checked to leave the serial play without a host.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ANSIBLE_DIR = Path(__file__).resolve().parents[2] / "ansible"
PLAYBOOKS_DIR = ANSIBLE_DIR / "playbooks"
ROLES_DIR = ANSIBLE_DIR / "roles"
PLAYBOOK_TIMEOUT_S = 300
# playbook -> the role whose restart.yml its serial play includes
RESTART_PLAYBOOKS = {
    "restart-zookeeper.yml": "zookeeper",
    "restart-hdfs.yml": "hdfs",
    "restart-yarn.yml": "yarn",
    "restart-hbase.yml": "hbase",
    "restart-kafka.yml": "kafka",
    "restart-storm.yml": "storm",
    "restart-risk-service.yml": "risk_service",
}
PENDING = re.compile(r"hostvars\[item\]\.(__\w+_restart_pending)")


def _plays(playbook: str) -> list[dict[str, object]]:
    return yaml.safe_load((PLAYBOOKS_DIR / playbook).read_text())


@pytest.mark.parametrize(("playbook", "role"), sorted(RESTART_PLAYBOOKS.items()))
def test_the_pending_mark_read_is_the_one_the_role_sets(playbook: str, role: str) -> None:
    marks = set(PENDING.findall((PLAYBOOKS_DIR / playbook).read_text()))
    assert marks == {f"__{role}_restart_pending"}, f"{playbook} reads {marks}"
    (mark,) = marks
    handlers = (ROLES_DIR / role / "handlers/main.yml").read_text()
    assert re.search(rf"^\s+{mark}:", handlers, re.M), f"{role}'s handlers never set {mark}"
    assert mark in (ROLES_DIR / role / "tasks/restart.yml").read_text()


@pytest.mark.parametrize(("playbook", "role"), sorted(RESTART_PLAYBOOKS.items()))
def test_the_serial_play_runs_on_the_listed_hosts_only(playbook: str, role: str) -> None:
    plays = _plays(playbook)
    serial = [play for play in plays if play.get("serial") == 1]
    assert len(serial) == 1
    expected_group = "zookeeper_restart_order" if role == "zookeeper" else f"{role}_restart_wanted"
    assert serial[0]["hosts"] == expected_group
    listing = plays[0]["tasks"][0]
    assert listing["ansible.builtin.add_host"]["groups"] == f"{role}_restart_wanted"


@pytest.mark.parametrize("playbook", sorted(RESTART_PLAYBOOKS))
def test_an_unmarked_run_restarts_no_host(playbook: str, tmp_path: Path) -> None:
    """As site.yml imports it with nothing changed: no host reaches the serial play, so the role's
    restart tasks (which would touch this machine's services) are never included."""
    hosts = {name: {} for name in ("h1", "h2", "h3")}
    groups = {
        group: {"hosts": hosts}
        for group in yaml.safe_load((ANSIBLE_DIR / "inventories/ci/hosts.yml").read_text())["all"][
            "children"
        ]
    }
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": sys.executable,
                    },
                    "children": groups,
                }
            }
        )
    )
    env = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg")}
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(inventory),
            str(PLAYBOOKS_DIR / playbook),
            "-e",
            "lendstream_restart_all=false",
        ],
        cwd=ANSIBLE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipping: no hosts matched" in result.stdout
    assert "included:" not in result.stdout
    assert "changed=0" in result.stdout
