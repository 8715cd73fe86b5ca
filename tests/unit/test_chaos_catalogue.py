"""The fault catalogue against the rest of the project: each alert a fault names is a rule of the
prometheus role, held long enough for the fault test to require it, and the HDFS admin tool the
safe-mode fault runs on a node is started like the hdfs role's own (its __hdfs_haadmin)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any, cast

import jinja2
import pytest
import yaml

from lendstream.chaos import faults
from lendstream.chaos.cluster import ANSIBLE_DIR, ChaosCluster

RULES_DIR = ANSIBLE_DIR / "roles" / "prometheus" / "templates" / "rules"
HDFS_ROLE = ANSIBLE_DIR / "roles" / "hdfs"
# tests/cluster/test_faults.py requires an alert to fire when its fault is held longer than the
# rule's `for:` plus a scrape and an evaluation.
SCRAPE_AND_EVALUATION_S = 30
UNIT_S = {"s": 1, "m": 60, "h": 3600}


def rule_durations() -> dict[str, int]:
    """Every alerting rule of the prometheus role's templates, with its `for:` in seconds."""
    pattern = re.compile(r"- alert: (\w+)\n(?:(?!\s*- alert:).*\n)*?\s*for: (\d+)([smh])\n")
    return {
        name: int(amount) * UNIT_S[unit]
        for path in RULES_DIR.glob("*.yml.j2")
        for name, amount, unit in pattern.findall(path.read_text())
    }


def rule_rate_windows() -> dict[str, int]:
    """Each alerting rule's longest range window (`rate(…[5m])`, `deriv(…[2m])`) in seconds, 0
    when its expression has none."""
    windows: dict[str, int] = {}
    for path in RULES_DIR.glob("*.yml.j2"):
        for block in re.split(r"\n\s*- alert: ", path.read_text())[1:]:
            name = block.split("\n", 1)[0].strip()
            expression = block.split("for:", 1)[0]
            ranges = re.findall(r"\[(\d+)([smh])\]", expression)
            windows[name] = max((int(n) * UNIT_S[unit] for n, unit in ranges), default=0)
    return windows


@pytest.mark.parametrize(
    "fault", [f for f in faults.CATALOGUE if f.alerts], ids=lambda fault: fault.name
)
def test_a_fault_waits_out_its_rules_rate_window_before_calling_an_alert_stuck(
    fault: faults.Fault,
) -> None:
    windows = rule_rate_windows()
    assert fault.alert_window_s >= max(windows[alert] for alert in fault.alerts)


def test_the_rate_windows_are_read_from_the_rules() -> None:
    windows = rule_rate_windows()
    assert windows["DeadLetterRateHigh"] == 300
    assert windows["ConsumerLagGrowing"] == 120
    assert windows["KafkaBrokerDown"] == 0


def test_fault_names_are_unique() -> None:
    names = [fault.name for fault in faults.CATALOGUE]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "fault", [f for f in faults.CATALOGUE if f.alerts], ids=lambda fault: fault.name
)
def test_every_alert_a_fault_names_is_a_rule_once(fault: faults.Fault) -> None:
    assert set(fault.alerts) <= set(rule_durations())
    assert len(set(fault.alerts)) == len(fault.alerts)


@pytest.mark.parametrize(
    ("name", "alert"),
    [
        ("resourcemanager-all-stop", "NoActiveResourceManager"),
        ("namenode-safemode", "NoActiveNameNode"),
    ],
)
def test_the_master_faults_are_held_beyond_their_alerts_window(name: str, alert: str) -> None:
    (fault,) = faults.by_name([name])
    assert alert in fault.alerts
    assert fault.hold_s > rule_durations()[alert] + SCRAPE_AND_EVALUATION_S


@dataclass
class RecordingCluster:
    commands: list[tuple[str, str]] = field(default_factory=list)

    def sh(self, host: str, command: str, timeout_s: float = 60, check: bool = True) -> str:
        self.commands.append((host, command))
        return "Safe mode is ON\n"


def rendered_haadmin() -> list[str]:
    """The hdfs role's __hdfs_haadmin rendered with its defaults and constants.

    Like Ansible, a variable that names another is rendered to its value first: __hdfs_haadmin
    appends the main class to the list __hdfs_tool renders to.
    """
    defaults = yaml.safe_load((HDFS_ROLE / "defaults" / "main.yml").read_text())
    constants = yaml.safe_load((HDFS_ROLE / "vars" / "main.yml").read_text())
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)

    def render(name: str) -> list[str]:
        rendered = environment.from_string(constants[name]).render(**defaults, **constants)
        return cast("list[str]", yaml.safe_load(rendered))

    constants["__hdfs_tool"] = render("__hdfs_tool")
    return render("__hdfs_haadmin")


def test_dfsadmin_starts_like_the_roles_haadmin_as_the_hdfs_user_against_one_namenode() -> None:
    cluster = RecordingCluster()
    faults.hdfs_dfsadmin(cast("ChaosCluster", cluster), "m2", "-safemode", "enter")
    ((host, command),) = cluster.commands
    argv = shlex.split(command)
    haadmin = rendered_haadmin()
    assert host == "m2"
    assert argv[:4] == ["runuser", "-u", "hdfs", "--"]
    # The JVM and its flags, the class path: all but haadmin's main class.
    assert argv[4 : 4 + len(haadmin) - 1] == haadmin[:-1]
    assert haadmin[-1] == "org.apache.hadoop.hdfs.tools.DFSHAAdmin"
    assert argv[3 + len(haadmin) :] == [
        "org.apache.hadoop.hdfs.tools.DFSAdmin",
        *("-fs", "hdfs://m2:8020", "-safemode", "enter"),
    ]


def test_entering_safe_mode_targets_the_serving_namenode(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = RecordingCluster()
    monkeypatch.setattr(faults, "hdfs_serving_namenode", lambda _cluster: "m1")
    state: dict[str, Any] = {}
    (fault,) = faults.by_name(["namenode-safemode"])
    fault.inject(cast("ChaosCluster", cluster), state)
    assert state == {"host": "m1"}
    ((host, command),) = cluster.commands
    assert host == "m1"
    assert command.endswith("-fs hdfs://m1:8020 -safemode enter")


def test_the_rule_parser_reads_each_rules_for() -> None:
    durations = rule_durations()
    assert durations["NoActiveNameNode"] == 60
    assert durations["ZooKeeperMemberNotServing"] == 120


@pytest.mark.parametrize(
    "name",
    [
        "hbase-master-all-stop",
        "zookeeper-quorum-loss",
        "producer-stop",
        "topology-kill",
        "regionserver-stop",
        "kafka-broker-stop",
        "kafka-broker-long-stop",
        "malformed-burst",
        "certificate-expiring-and-unreadable",
        "worker-long-power-off",
        "disk-full",
        "kafka-partition-offline",
        "topology-long-kill",
        "risk-token-refused",
        "risk-services-freezing",
        "risk-bad-model-push",
    ],
)
def test_a_held_fault_is_held_beyond_every_alerts_window(name: str) -> None:
    (fault,) = faults.by_name([name])
    durations = rule_durations()
    assert fault.alerts
    for alert in fault.alerts:
        assert fault.hold_s > durations[alert] + SCRAPE_AND_EVALUATION_S, alert


@dataclass
class ZooKeeperCluster:
    """Three members, m2 leading; records what is stopped."""

    groups: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"zookeeper": ("m1", "m2", "m3"), "storm_nimbus": ("m1",)}
    )
    stopped: list[str] = field(default_factory=list)

    def hosts(self, group: str) -> tuple[str, ...]:
        return self.groups.get(group, ())

    def sh(self, host: str, command: str, timeout_s: float = 60, check: bool = True) -> str:
        assert "list-units" in command
        return "lendstream-zookeeper.service loaded active running ZooKeeper\n"

    def systemctl(self, host: str, verb: str, unit: str) -> None:
        assert (verb, unit) == ("stop", "lendstream-zookeeper")
        self.stopped.append(host)


def test_the_quorum_loss_stops_a_majority_followers_first(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = ZooKeeperCluster()
    monkeypatch.setattr(faults, "zookeeper_leader", lambda _cluster: "m2")
    state: dict[str, Any] = {}
    (fault,) = faults.by_name(["zookeeper-quorum-loss"])
    fault.inject(cast("ChaosCluster", cluster), state)
    assert cluster.stopped == ["m1", "m3"]
    assert state["stopped"] == ["m1", "m3"]
    # Every node's active services noted, for the healing to restart what exited meanwhile.
    assert state["units"] == {host: {"lendstream-zookeeper.service"} for host in ("m1", "m2", "m3")}
