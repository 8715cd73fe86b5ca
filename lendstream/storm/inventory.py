"""The cluster target an Ansible inventory describes (``--inventory PATH``, read with
``ansible-inventory``): nimbus from group ``storm_nimbus``, Kafka brokers from ``kafka_broker``,
risk services from ``risk_service``; each save bolt writes through the HBase Thrift server of its
own node, on 127.0.0.1 (group ``hbase_thrift`` must hold every supervisor); the workers' venv
and the risk-service token file are the ones the ``topology`` Ansible role puts on the
supervisors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lendstream.cluster import check_thrift_beside_supervisors
from lendstream.pipeline.topology_conf import TopologyConf

# On a cluster (the topology Ansible role's defaults; --token-file / --workers-venv override them).
CLUSTER_TOKEN_FILE = "/etc/lendstream/topology/risk-service-token"
CLUSTER_PORTS = {"kafka_broker": 9092, "risk_service": 8090, "hbase_thrift": 9090, "nimbus": 6627}
# Where every save bolt reaches its node's Thrift server (the hbase role's hbase_thrift_address).
LOCAL_THRIFT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class ClusterTarget:
    """Where and how the topology runs on a cluster described by an Ansible inventory."""

    nimbus_seeds: dict[str, str]  # inventory name → host:port the controller reaches it at
    supervisors: list[str]  # inventory host names (the workers' view, through /etc/hosts)
    settings: TopologyConf


def inventory_groups(inventory: Path) -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
    """Group → its hosts (children included, inventory order), and each host's variables."""
    result = subprocess.run(
        [str(Path(sys.prefix) / "bin" / "ansible-inventory"), "-i", str(inventory), "--list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ansible-inventory failed on {inventory}:\n{result.stderr[-2000:]}")
    data = json.loads(result.stdout)
    hostvars: dict[str, dict[str, Any]] = data.get("_meta", {}).get("hostvars", {})

    def hosts_of(group: str, seen: frozenset[str] = frozenset()) -> list[str]:
        entry = data.get(group, {})
        hosts = list(entry.get("hosts", []))
        for child in entry.get("children", []):
            if child not in seen:
                hosts += [h for h in hosts_of(child, seen | {group}) if h not in hosts]
        return hosts

    groups = {name: hosts_of(name) for name in data if name != "_meta"}
    return groups, hostvars


def cluster_target(
    inventory: Path, token_file: str = CLUSTER_TOKEN_FILE, base: TopologyConf | None = None
) -> ClusterTarget:
    """The topology's settings on the cluster of ``inventory``: every Kafka broker and risk
    service by its inventory name, the node's own HBase Thrift server on 127.0.0.1 (ValueError
    when a supervisor has none); nimbus seeds by the address the controller reaches them at.
    Ports: the host's ``kafka_broker_port`` / ``risk_service_port`` / ``hbase_thrift_port`` /
    ``storm_nimbus_thrift_port`` variables if the inventory sets them."""
    groups, hostvars = inventory_groups(inventory)
    check_thrift_beside_supervisors(groups, f"inventory {inventory}")

    def members(group: str) -> list[str]:
        hosts = groups.get(group, [])
        if not hosts:
            raise ValueError(f"inventory {inventory} has no host in group {group!r}")
        return hosts

    def port(host: str, variable: str, default: int) -> int:
        return int(hostvars.get(host, {}).get(variable, default))

    brokers = [
        f"{h}:{port(h, 'kafka_broker_port', CLUSTER_PORTS['kafka_broker'])}"
        for h in members("kafka_broker")
    ]
    risk_urls = [
        f"http://{h}:{port(h, 'risk_service_port', CLUSTER_PORTS['risk_service'])}"
        for h in members("risk_service")
    ]
    thrift_hosts = members("hbase_thrift")
    thrift_ports = {
        port(h, "hbase_thrift_port", CLUSTER_PORTS["hbase_thrift"]) for h in thrift_hosts
    }
    if len(thrift_ports) != 1:
        raise ValueError(f"the HBase Thrift servers listen on different ports: {thrift_ports}")
    seeds = {
        h: f"{hostvars.get(h, {}).get('ansible_host', h)}:"
        f"{port(h, 'storm_nimbus_thrift_port', CLUSTER_PORTS['nimbus'])}"
        for h in members("storm_nimbus")
    }
    settings = replace(
        base or TopologyConf(),
        kafka_bootstrap_servers=",".join(brokers),
        risk_service_urls=",".join(risk_urls),
        risk_service_token_file=token_file,
        hbase_hosts=LOCAL_THRIFT_HOST,
        hbase_port=thrift_ports.pop(),
    )
    return ClusterTarget(seeds, members("storm_supervisor"), settings)
