"""What the monitoring of a deployed layout must show (test_cluster_deploy.py checks it right after
site.yml): site.yml's last play puts Prometheus and Alertmanager on the monitoring node and the
node exporter everywhere, and the cluster vars turn the JMX exporter agents on. Each job's
expected targets come from the inventory groups and the roles' port variables; the alert rules
from the prometheus role's templates."""

from __future__ import annotations

import re
from datetime import datetime

from deployment import ANSIBLE_DIR, Cluster

from lendstream.chaos.alerts import Prometheus
from lendstream.chaos.cluster import role_default

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
    "pipeline": (("producer",), "pipeline_exporter", "pipeline_exporter_port"),
    "zookeeper": (("zookeeper",), "zookeeper", "zookeeper_jmx_exporter_port"),
    "kafka": (("kafka_controller", "kafka_broker"), "kafka", "kafka_jmx_exporter_port"),
    "hdfs_namenode": (("hdfs_namenode",), "hdfs", "hdfs_jmx_exporter_namenode_port"),
    "hdfs_datanode": (("hdfs_datanode",), "hdfs", "hdfs_jmx_exporter_datanode_port"),
    # Both layouts run NameNode HA, so their JournalNodes.
    "hdfs_journalnode": (("hdfs_journalnode",), "hdfs", "hdfs_jmx_exporter_journalnode_port"),
    "yarn_resourcemanager": (
        ("yarn_resourcemanager",),
        "yarn",
        "yarn_jmx_exporter_resourcemanager_port",
    ),
    "yarn_nodemanager": (("yarn_nodemanager",), "yarn", "yarn_jmx_exporter_nodemanager_port"),
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
    "storm_ui": (("storm_ui",), "storm", "storm_ui_port"),
}

# The JMX exporters' "this one is the active master" gauges: exactly one of each across the HA
# pairs (the alert rules NoActiveNameNode, NoActiveResourceManager, NoActiveHBaseMaster use them).
ONE_ACTIVE = ("hdfs_namenode_active", "yarn_resourcemanager_active", "hbase_master_active")
# And zero across the cluster: no NameNode in safe mode, no failed DataNode volume, no bad
# NodeManager directory.
ALL_ZERO = (
    "hdfs_namenode_safemode",
    "hdfs_datanode_volumes_failed",
    "yarn_nodemanager_local_dirs_bad",
    "yarn_nodemanager_log_dirs_bad",
)
# One series per JournalNode (its copy of the nameservice's journal, written by the active
# NameNode): as many as the layout's hdfs_journalnode group.
JOURNAL_WRITTEN = "hdfs_journalnode_last_written_txid"


def expected_targets(cluster: Cluster) -> set[tuple[str, str]]:
    every_node = tuple(node.name for node in cluster.layout.nodes)
    targets = set()
    for job, (groups, role, port_variable) in JOBS.items():
        port = role_default(role, port_variable)
        for group in groups:
            hosts = every_node if group == "all" else cluster.groups.get(group, ())
            targets |= {(job, f"{host}:{port}") for host in hosts}
    return targets


def sums(
    prometheus: Prometheus, names: tuple[str, ...], aggregation: str = "sum"
) -> dict[str, list[float]]:
    """Each metric's sum (or other aggregation) over its series ([] when no series has it)."""
    return {
        name: [
            float(series["value"][1])
            for series in prometheus.get("/api/v1/query", query=f"{aggregation}({name})")["result"]
        ]
        for name in names
    }


def rules_in_templates() -> dict[str, set[str]]:
    """Each rules file's group name and its alert names, read from the role's templates."""
    groups: dict[str, set[str]] = {}
    for template in sorted(RULES_DIR.glob("*.yml.j2")):
        text = template.read_text()
        (group,) = re.findall(r"^  - name: (\S+)$", text, re.M)
        groups[group] = set(re.findall(r"^ {6}- alert: (\S+)$", text, re.M))
    return groups


def timestamp(rfc3339: str) -> float:
    """Prometheus's lastEvaluation (RFC 3339, nanoseconds) as Unix seconds."""
    seconds = re.sub(r"(\.\d{6})\d*", r"\1", rfc3339).replace("Z", "+00:00")
    return datetime.fromisoformat(seconds).timestamp()
