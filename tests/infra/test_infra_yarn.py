"""YARN: ResourceManager and NodeManagers running and enabled, ports listening on the node's
address, every NodeManager active on the ResourceManager, nodes reaching the ResourceManager."""

from __future__ import annotations

from typing import Any

from infra_cluster import (
    YARN_NODEMANAGER_PORTS,
    YARN_RESOURCEMANAGER_HTTP,
    YARN_RESOURCEMANAGER_PORTS,
    YARN_RESOURCEMANAGER_TRACKER,
    assert_service,
    groups,
    http_json,
    in_group,
    variables,
)

testinfra_hosts = ["ansible://all"]


def test_resourcemanager(host: Any) -> None:
    if in_group(host, "yarn_resourcemanager"):
        assert_service(host, "lendstream-yarn-resourcemanager", YARN_RESOURCEMANAGER_PORTS)
    else:
        assert not host.service("lendstream-yarn-resourcemanager").is_running


def test_nodemanager(host: Any) -> None:
    if in_group(host, "yarn_nodemanager"):
        assert_service(host, "lendstream-yarn-nodemanager", YARN_NODEMANAGER_PORTS)
    else:
        assert not host.service("lendstream-yarn-nodemanager").is_running


def test_every_nodemanager_is_running_on_the_resourcemanager(host: Any) -> None:
    resourcemanager = groups(host)["yarn_resourcemanager"][0]
    nodes = http_json(
        host, f"http://{resourcemanager}:{YARN_RESOURCEMANAGER_HTTP}/ws/v1/cluster/nodes"
    )["nodes"]["node"]
    # NodeManagers register under their canonical (fully qualified) name.
    running = sorted(
        node["nodeHostName"].split(".")[0] for node in nodes if node["state"] == "RUNNING"
    )
    assert running == sorted(groups(host)["yarn_nodemanager"])


def test_this_nodemanager_offers_its_resources(host: Any) -> None:
    if not in_group(host, "yarn_nodemanager"):
        return
    resourcemanager = groups(host)["yarn_resourcemanager"][0]
    nodes = http_json(
        host, f"http://{resourcemanager}:{YARN_RESOURCEMANAGER_HTTP}/ws/v1/cluster/nodes"
    )["nodes"]["node"]
    name = variables(host)["inventory_hostname"]
    own = [node for node in nodes if node["nodeHostName"].split(".")[0] == name]
    assert len(own) == 1
    assert own[0]["state"] == "RUNNING"
    assert own[0]["healthReport"] == "", own[0]["healthReport"]
    assert own[0]["availMemoryMB"] + own[0]["usedMemoryMB"] > 0


def test_node_reaches_the_resourcemanager(host: Any) -> None:
    resourcemanager = groups(host)["yarn_resourcemanager"][0]
    for port in (YARN_RESOURCEMANAGER_TRACKER, YARN_RESOURCEMANAGER_HTTP):
        assert host.addr(resourcemanager).port(port).is_reachable, (resourcemanager, port)
