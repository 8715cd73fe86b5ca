"""YARN: ResourceManagers and NodeManagers running and enabled, ports listening on the node's
address, one ResourceManager active (the others standby with HA), every NodeManager running on
it, nodes reaching the ResourceManagers."""

from __future__ import annotations

from typing import Any

import pytest
from infra_cluster import (
    YARN_NODEMANAGER_PORTS,
    YARN_RESOURCEMANAGER_PORTS,
    YARN_RESOURCEMANAGER_STANDBY_PORTS,
    YARN_RESOURCEMANAGER_TRACKER,
    assert_service,
    groups,
    hadoop_properties,
    hadoop_web_port,
    hadoop_web_url,
    http_answer,
    http_json,
    in_group,
    variables,
)

testinfra_hosts = ["ansible://all"]


def resourcemanager_states(host: Any) -> dict[str, str]:
    """Each ResourceManager's HA state (ACTIVE, STANDBY; without HA the one is ACTIVE)."""
    return {
        manager: http_json(
            host, hadoop_web_url(host, manager, "resourcemanager", "/ws/v1/cluster/info")
        )["clusterInfo"]["haState"]
        for manager in groups(host)["yarn_resourcemanager"]
    }


def active_resourcemanager(host: Any) -> str:
    return next(name for name, state in resourcemanager_states(host).items() if state == "ACTIVE")


def test_resourcemanager(host: Any) -> None:
    if in_group(host, "yarn_resourcemanager"):
        name = variables(host)["inventory_hostname"]
        # A standby serves only its admin and web ports; the active one every port.
        active = resourcemanager_states(host)[name] == "ACTIVE"
        ports = YARN_RESOURCEMANAGER_PORTS if active else YARN_RESOURCEMANAGER_STANDBY_PORTS
        web = hadoop_web_port(host, "resourcemanager")
        assert_service(host, "lendstream-yarn-resourcemanager", (*ports, web))
    else:
        assert not host.service("lendstream-yarn-resourcemanager").is_running


def test_nodemanager(host: Any) -> None:
    if in_group(host, "yarn_nodemanager"):
        web = hadoop_web_port(host, "nodemanager")
        assert_service(host, "lendstream-yarn-nodemanager", (*YARN_NODEMANAGER_PORTS, web))
    else:
        assert not host.service("lendstream-yarn-nodemanager").is_running


@pytest.mark.cluster_wide
def test_one_resourcemanager_is_active_and_the_others_standby(host: Any) -> None:
    states = sorted(resourcemanager_states(host).values())
    standby = len(groups(host)["yarn_resourcemanager"]) - 1
    assert states == ["ACTIVE"] + ["STANDBY"] * standby, states


@pytest.mark.cluster_wide
def test_every_nodemanager_is_running_on_the_resourcemanager(host: Any) -> None:
    resourcemanager = active_resourcemanager(host)
    nodes = http_json(
        host, hadoop_web_url(host, resourcemanager, "resourcemanager", "/ws/v1/cluster/nodes")
    )["nodes"]["node"]
    # NodeManagers register under their canonical (fully qualified) name.
    running = sorted(
        node["nodeHostName"].split(".")[0] for node in nodes if node["state"] == "RUNNING"
    )
    assert running == sorted(groups(host)["yarn_nodemanager"])


@pytest.mark.in_groups("yarn_nodemanager")
def test_this_nodemanager_offers_its_resources(host: Any) -> None:
    resourcemanager = active_resourcemanager(host)
    nodes = http_json(
        host, hadoop_web_url(host, resourcemanager, "resourcemanager", "/ws/v1/cluster/nodes")
    )["nodes"]["node"]
    name = variables(host)["inventory_hostname"]
    own = [node for node in nodes if node["nodeHostName"].split(".")[0] == name]
    assert len(own) == 1
    assert own[0]["state"] == "RUNNING"
    assert own[0]["healthReport"] == "", own[0]["healthReport"]
    assert own[0]["availMemoryMB"] + own[0]["usedMemoryMB"] > 0


def test_node_reaches_the_resourcemanagers(host: Any) -> None:
    active = active_resourcemanager(host)
    assert host.addr(active).port(YARN_RESOURCEMANAGER_TRACKER).is_reachable, active
    for resourcemanager in groups(host)["yarn_resourcemanager"]:
        port = hadoop_web_port(host, "resourcemanager")
        assert host.addr(resourcemanager).port(port).is_reachable, (resourcemanager, port)


@pytest.mark.in_groups("yarn_resourcemanager")
def test_rest_api_submits_no_application(host: Any) -> None:
    """The REST API's new-application (an application id, the first step of a submission) is
    refused by the active ResourceManager (yarn.webapp.enable-rest-app-submissions off)."""
    properties = hadoop_properties(host, "yarn-site.xml")
    assert properties["yarn.webapp.enable-rest-app-submissions"] == "false"
    path = "/ws/v1/cluster/apps/new-application"
    url = hadoop_web_url(host, active_resourcemanager(host), "resourcemanager", path)
    status, body = http_answer(host, url, "POST")
    assert (status, body.strip()) == (403, "App submission via REST is disabled.")
