"""Monitoring on the package's deployed layout (conftest.py): site.yml's last play puts Prometheus
and Alertmanager on the monitoring node and the node exporter everywhere, and the cluster vars turn
the JMX exporter agents on. Read from the controller over Prometheus's HTTP API: every expected
target of every job answers its scrape (up == 1), each rules file's group and alerting rule is
loaded, and no alert is pending or firing on the healthy cluster."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
from deployment import ANSIBLE_DIR, FIGURES, Cluster, site_first_run

from lendstream.chaos.alerts import Prometheus
from lendstream.chaos.cluster import role_default

pytestmark = [pytest.mark.vcluster, pytest.mark.slow, pytest.mark.timeout(3600)]

# A few scrape intervals (15 s): the monitoring play is the last of site.yml, so Prometheus starts
# on a cluster already serving.
FIRST_SCRAPES_TIMEOUT_S = 120
RULES_DIR = ANSIBLE_DIR / "roles" / "prometheus" / "templates" / "rules"
# Each job: the inventory groups its targets come from, and the role and variable of its port.
JOBS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "node": (("all",), "node_exporter", "node_exporter_port"),
    "prometheus": (("monitoring",), "prometheus", "prometheus_port"),
    "alertmanager": (("monitoring",), "alertmanager", "alertmanager_port"),
    "applicant_api": (("applicant_api",), "applicant_api", "applicant_api_port"),
    "producer": (("producer",), "producer", "producer_metrics_port"),
    "risk_service": (("risk_service",), "risk_service", "risk_service_port"),
    "zookeeper": (("zookeeper",), "zookeeper", "zookeeper_jmx_exporter_port"),
    "kafka": (("kafka_controller", "kafka_broker"), "kafka", "kafka_jmx_exporter_port"),
    "hbase_master": (
        ("hbase_master", "hbase_backup_master"),
        "hbase",
        "hbase_jmx_exporter_master_port",
    ),
    "hbase_regionserver": (
        ("hbase_regionserver",),
        "hbase",
        "hbase_jmx_exporter_regionserver_port",
    ),
    "storm_supervisor": (("storm_supervisor",), "storm", "storm_jmx_exporter_port"),
}


def expected_targets(cluster: Cluster) -> set[tuple[str, str]]:
    every_node = tuple(node.name for node in cluster.layout.nodes)
    targets = set()
    for job, (groups, role, port_variable) in JOBS.items():
        port = role_default(role, port_variable)
        for group in groups:
            hosts = every_node if group == "all" else cluster.groups.get(group, ())
            targets |= {(job, f"{host}:{port}") for host in hosts}
    return targets


def rules_in_templates() -> dict[str, set[str]]:
    """Each rules file's group name and its alert names, read from the role's templates."""
    groups: dict[str, set[str]] = {}
    for template in sorted(RULES_DIR.glob("*.yml.j2")):
        text = template.read_text()
        (group,) = re.findall(r"^  - name: (\S+)$", text, re.M)
        groups[group] = set(re.findall(r"^ {6}- alert: (\S+)$", text, re.M))
    return groups


def test_prometheus_scrapes_every_target_loads_the_rules_and_nothing_fires(
    cluster: Cluster,
) -> None:
    site_first_run(cluster)
    prometheus = Prometheus(
        f"http://{cluster.addresses[cluster.groups['monitoring'][0]]}:"
        f"{role_default('prometheus', 'prometheus_port')}"
    )
    expected = expected_targets(cluster)
    assert len(expected) > len(JOBS)
    started = time.monotonic()
    up: dict[tuple[str, str], float] = {}
    while time.monotonic() - started < FIRST_SCRAPES_TIMEOUT_S:
        try:
            up = prometheus.up()
        except OSError:
            up = {}
        if set(up) == expected and all(value == 1 for value in up.values()):
            break
        time.sleep(3)
    all_up_s = time.monotonic() - started
    assert set(up) == expected, (
        f"missing {sorted(expected - set(up))}, unexpected {sorted(set(up) - expected)}"
    )
    assert all(value == 1 for value in up.values()), sorted(t for t, v in up.items() if v != 1)

    templates = rules_in_templates()
    loaded = prometheus.alerting_rules()
    assert set(loaded) == set().union(*templates.values())
    assert {name: rule["group"] for name, rule in loaded.items()} == {
        name: group for group, names in templates.items() for name in names
    }
    # Every rule evaluated once since all targets answered, then nothing pending or firing.
    evaluated_after = time.time()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rules = prometheus.alerting_rules().values()
        if all(_timestamp(rule["lastEvaluation"]) > evaluated_after for rule in rules):
            break
        time.sleep(3)
    assert all(rule["health"] == "ok" for rule in rules), [
        (rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"
    ]
    active = [
        (alert["labels"]["alertname"], alert["labels"].get("instance", ""), alert["state"])
        for alert in prometheus.alerts()
    ]
    assert active == [], active
    FIGURES["prometheus"] = (
        f"{len(expected)} targets of {len(JOBS)} jobs up {all_up_s:.0f} s after site.yml, "
        f"{len(loaded)} alerting rules in {len(templates)} groups loaded, none active"
    )


def _timestamp(rfc3339: str) -> float:
    """Prometheus's lastEvaluation (RFC 3339, nanoseconds) as Unix seconds."""
    seconds = re.sub(r"(\.\d{6})\d*", r"\1", rfc3339).replace("Z", "+00:00")
    return datetime.fromisoformat(seconds).timestamp()
