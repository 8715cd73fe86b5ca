"""testinfra checks are scoped to the hosts they are about (tests/infra/conftest.py): collected
against the checked-in montana inventory (no node is reached), a group's check runs on exactly
that group's hosts, a cluster-wide check once, a placement check ("runs here and nowhere else") on
every node — and `--hosts=ansible://all` changes none of it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from testinfra.utils.ansible_runner import AnsibleRunner

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
INVENTORY = REPOSITORY_ROOT / "ansible" / "inventories" / "montana" / "hosts.yml"
COLLECT_TIMEOUT_S = 120.0


def _collected(*extra: str) -> dict[str, list[str]]:
    """Each collected check (`file::name`) with the hosts it runs on."""
    result = subprocess.run(
        [
            sys.executable,
            *("-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"),
            "tests/infra",
            f"--ansible-inventory={INVENTORY}",
            *extra,
        ],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=COLLECT_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    checks: dict[str, list[str]] = defaultdict(list)
    for line in result.stdout.splitlines():
        if "::" not in line:
            continue
        check, _, host = line.partition("[")
        checks[check.removeprefix("tests/infra/")].append(
            host.rstrip("]").removeprefix("ansible://")
        )
    return dict(checks)


def _hosts(group: str) -> list[str]:
    """The group's hosts in the montana inventory, as testinfra resolves them (its
    ansible-inventory is the venv's, found as tests/infra/conftest.py finds it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        hosts = AnsibleRunner.get_runner(str(INVENTORY)).get_hosts(group)
    assert hosts, f"no group {group} in {INVENTORY}"
    return sorted(hosts)


@pytest.fixture(scope="module")
def collected() -> dict[str, list[str]]:
    return _collected()


@pytest.mark.parametrize(
    ("check", "group"),
    [
        ("test_infra_mysql.py::test_reader_cannot_write", "mysql"),
        ("test_infra_hdfs.py::test_namenode_format_ran_once", "hdfs_namenode"),
        ("test_infra_yarn.py::test_this_nodemanager_offers_its_resources", "yarn_nodemanager"),
        (
            "test_infra_logs.py::test_storm_workers_keep_no_more_backups_than_configured",
            "storm_supervisor",
        ),
        ("test_infra_risk_service.py::test_scores_with_the_token_only", "risk_service"),
        ("test_infra_mysql.py::test_mysql_service", "all"),
        ("test_infra_kafka.py::test_kafka_runs_exactly_on_its_hosts", "all"),
    ],
)
def test_a_check_runs_on_exactly_its_groups_hosts(
    collected: dict[str, list[str]], check: str, group: str
) -> None:
    assert sorted(collected[check]) == _hosts(group)


@pytest.mark.parametrize(
    "check",
    [
        "test_infra_zookeeper.py::test_ensemble_has_one_leader_and_the_rest_followers",
        "test_infra_kafka.py::test_every_broker_and_controller_is_registered",
        "test_infra_hdfs.py::test_one_namenode_is_active_and_the_other_standby",
        "test_infra_yarn.py::test_every_nodemanager_is_running_on_the_resourcemanager",
        "test_infra_hbase.py::test_one_active_master_counts_every_regionserver_live",
        "test_infra_storm.py::test_one_nimbus_leads_and_every_supervisor_is_registered",
    ],
)
def test_a_cluster_wide_check_runs_once(collected: dict[str, list[str]], check: str) -> None:
    assert len(collected[check]) == 1


def test_hosts_all_on_the_command_line_changes_nothing(collected: dict[str, list[str]]) -> None:
    assert _collected("--hosts=ansible://all") == collected
