"""The cluster description loader: placement, addresses, sizes and the errors it reports."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import pytest

from lendstream.cluster import (
    ClusterDescriptionError,
    inventory,
    load_cluster,
    parse_cluster,
)
from lendstream.vcluster.mirrors import parse_deb822_sources, parse_one_line_sources, pick_mirrors

SERVICE_GROUPS = {
    "zookeeper", "hdfs_namenode", "hdfs_journalnode", "hdfs_datanode", "yarn_resourcemanager",
    "yarn_nodemanager", "hbase_master", "hbase_backup_master", "hbase_regionserver",
    "hbase_thrift", "kafka_controller", "kafka_broker", "storm_nimbus", "storm_ui",
    "storm_supervisor", "mysql", "applicant_api", "risk_service", "producer", "topology_submitter",
    "monitoring",
}  # fmt: skip

SMALL: dict[str, Any] = {
    "domain": "example.internal",
    "layouts": {
        "tiny": {
            "description": "two nodes",
            "network": "10.9.8.0/24",
            "sizes": {
                "master": {"memory_mib": 1024, "cpus": 1},
                "worker": {"memory_mib": 512, "cpus": 1},
            },
            "nodes": [
                {"name": "a1", "address": "10.9.8.11", "roles": ["master"]},
                {"name": "b1", "address": "10.9.8.21", "roles": ["worker"], "memory_mib": 700},
                {"name": "b2", "address": "10.9.8.22", "roles": ["worker", "master"]},
            ],
        }
    },
    "groups": {
        "first_master": {"hosts": ["masters.1"], "reason": "r"},
        "second_master": {"hosts": ["masters.2"], "reason": "r"},
        "everyone": {"hosts": ["workers", "masters"], "reason": "r"},
    },
}


def small(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(SMALL)
    document["layouts"]["tiny"].update(changes)
    return document


def test_montana_is_three_masters_and_six_workers() -> None:
    montana = load_cluster().layout("montana")
    groups = montana.groups()
    assert groups["masters"] == ("m1", "m2", "m3")
    assert groups["workers"] == ("w1", "w2", "w3", "w4", "w5", "w6")
    assert groups["hdfs_namenode"] == ("m1", "m2")
    assert groups["hdfs_journalnode"] == groups["masters"]
    assert groups["yarn_resourcemanager"] == ("m2", "m3")
    assert groups["hbase_master"] == ("m1",)
    assert groups["hbase_backup_master"] == ("m3",)
    assert groups["storm_ui"] == ("m2",)
    assert groups["kafka_broker"] == groups["workers"]
    assert groups["zookeeper"] == groups["kafka_controller"] == groups["storm_nimbus"]


def test_every_layout_has_every_service_group_and_none_empty() -> None:
    for layout in load_cluster().layouts.values():
        groups = layout.groups()
        assert set(groups) == SERVICE_GROUPS | {"masters", "workers"}, layout.name
        assert all(groups.values()), layout.name


def test_every_group_states_a_reason() -> None:
    for layout in load_cluster().layouts.values():
        assert all(p.reason.strip() for p in layout.placements)


def test_active_and_backup_services_land_on_different_nodes_in_every_layout() -> None:
    for layout in load_cluster().layouts.values():
        groups = layout.groups()
        assert set(groups["hbase_master"]).isdisjoint(groups["hbase_backup_master"])
        # HA pairs: two distinct hosts each (a host listed twice would deduplicate to one).
        assert len(groups["hdfs_namenode"]) == 2, layout.name
        assert len(groups["yarn_resourcemanager"]) == 2, layout.name


def test_quorums_have_three_members_in_every_layout() -> None:
    for layout in load_cluster().layouts.values():
        groups = layout.groups()
        for quorum in (
            "zookeeper",
            "kafka_controller",
            "storm_nimbus",
            "kafka_broker",
            "hdfs_journalnode",
        ):
            assert len(groups[quorum]) >= 3, (layout.name, quorum)


def test_nodes_sit_in_their_layout_network_away_from_the_host_address() -> None:
    for layout in load_cluster().layouts.values():
        assert layout.host_address == layout.network.network_address + 1
        for node in layout.nodes:
            assert node.address in layout.network
            assert node.address != layout.host_address


def test_layout_networks_are_distinct_and_inside_virtualbox_host_only_range() -> None:
    layouts = list(load_cluster().layouts.values())
    allowed = ipaddress.IPv4Network("192.168.56.0/21")
    for index, layout in enumerate(layouts):
        assert layout.network.subnet_of(allowed)
        for other in layouts[index + 1 :]:
            assert not layout.network.overlaps(other.network)


def test_selectors_count_from_one_and_deduplicate() -> None:
    layout = parse_cluster(small()).layout("tiny")
    groups = layout.groups()
    assert groups["first_master"] == ("a1",)
    assert groups["second_master"] == ("b2",)
    assert groups["everyone"] == ("b1", "b2", "a1")
    assert groups["masters"] == ("a1", "b2")


def test_size_comes_from_the_first_role_unless_the_node_sets_it() -> None:
    layout = parse_cluster(small()).layout("tiny")
    assert (layout.node("a1").size.memory_mib, layout.node("a1").size.cpus) == (1024, 1)
    assert layout.node("b1").size.memory_mib == 700
    assert layout.node("b2").size.memory_mib == 512
    assert layout.node("b2").fqdn == "b2.example.internal"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (small(network="10.9.0.0/16"), "private /24"),
        (small(network="8.8.8.0/24"), "private /24"),
        (small(network="nonsense"), "network"),
        (
            small(nodes=[{"name": "a1", "address": "10.9.8.1", "roles": ["master", "worker"]}]),
            "other than 10.9.8.1",
        ),
        (
            small(nodes=[{"name": "a1", "address": "10.9.9.5", "roles": ["master", "worker"]}]),
            "must be a host address",
        ),
        (
            small(
                nodes=[
                    {"name": "a1", "address": "10.9.8.11", "roles": ["master", "worker"]},
                    {"name": "a1", "address": "10.9.8.12", "roles": ["worker"]},
                ]
            ),
            "node name a1 appears twice",
        ),
        (
            small(
                nodes=[
                    {"name": "a1", "address": "10.9.8.11", "roles": ["master", "worker"]},
                    {"name": "a2", "address": "10.9.8.11", "roles": ["worker"]},
                ]
            ),
            "address 10.9.8.11 appears twice",
        ),
        (small(nodes=[{"name": "a1", "address": "10.9.8.11", "roles": ["master"]}]), "worker"),
        (small(nodes=[{"name": "a1", "address": "10.9.8.11", "roles": ["boss"]}]), "roles"),
        (small(nodes=[{"name": "A_1", "address": "10.9.8.11", "roles": ["master"]}]), "name"),
        (small(sizes={"master": {"memory_mib": 0, "cpus": 1}}), "memory_mib"),
        ({**small(), "tls": "yes"}, "tls must be true or false"),
    ],
)
def test_bad_layouts_are_refused_with_the_place_named(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClusterDescriptionError, match=message):
        parse_cluster(document)


def test_tls_is_on_unless_the_description_turns_it_off() -> None:
    assert load_cluster().layout("montana").tls
    assert parse_cluster(small()).layout("tiny").tls
    plain = parse_cluster({**small(), "tls": False}).layout("tiny")
    assert inventory(plain)["all"]["vars"]["lendstream_tls"] is False


def test_a_selector_past_the_end_names_the_group_and_layout() -> None:
    document = small()
    document["groups"]["third_master"] = {"hosts": ["masters.3"], "reason": "r"}
    with pytest.raises(ClusterDescriptionError, match=r"third_master.*'tiny' has 2 masters"):
        parse_cluster(document)


def test_a_group_without_reason_or_with_a_bad_selector_is_refused() -> None:
    document = small()
    document["groups"]["silent"] = {"hosts": ["masters"]}
    with pytest.raises(ClusterDescriptionError, match="silent: reason"):
        parse_cluster(document)
    document["groups"]["silent"] = {"hosts": ["master1"], "reason": "r"}
    with pytest.raises(ClusterDescriptionError, match="selector 'master1'"):
        parse_cluster(document)


def test_every_storm_supervisor_must_run_a_thrift_server() -> None:
    # The save bolts write through their own node's Thrift server, on 127.0.0.1 only.
    document = small()
    document["groups"]["storm_supervisor"] = {"hosts": ["workers"], "reason": "r"}
    document["groups"]["hbase_thrift"] = {"hosts": ["workers"], "reason": "r"}
    parse_cluster(document)
    document["groups"]["hbase_thrift"] = {"hosts": ["workers.1"], "reason": "r"}
    with pytest.raises(
        ClusterDescriptionError,
        match=r"layout tiny: Storm supervisors without an HBase Thrift server: b2;",
    ):
        parse_cluster(document)


def test_an_unknown_layout_lists_the_known_ones() -> None:
    with pytest.raises(ClusterDescriptionError, match="known: ci, montana"):
        load_cluster().layout("texas")


def test_inventory_lists_hosts_with_addresses_and_groups_with_members() -> None:
    layout = parse_cluster(small()).layout("tiny")
    document = inventory(layout, host_vars={"a1": {"x": 1}}, all_vars={"ansible_user": "u"})
    assert document["all"]["hosts"]["a1"] == {"ansible_host": "10.9.8.11", "x": 1}
    assert document["all"]["vars"] == {
        "lendstream_domain": "example.internal",
        "lendstream_tls": True,
        "ansible_user": "u",
    }
    assert list(document["all"]["children"]["everyone"]["hosts"]) == ["b1", "b2", "a1"]


def test_mirrors_are_taken_from_both_apt_source_formats() -> None:
    one_line = "deb [signed-by=/k.gpg] http://mirror.example/debian bookworm main\n# deb x y\n"
    deb822 = (
        "Types: deb\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n"
    )
    sources = parse_one_line_sources(one_line) + parse_deb822_sources(deb822)
    mirrors = pick_mirrors(sources)
    assert mirrors is not None
    assert mirrors.archive == "http://mirror.example/debian"
    assert mirrors.security == "http://mirror.example/debian-security"
    assert pick_mirrors(parse_one_line_sources(one_line)) is None
