"""HDFS: daemons running and enabled on their groups' hosts, ports listening on the node's
address, the NameNode out of safe mode with every DataNode live, nodes reaching the NameNode."""

from __future__ import annotations

from typing import Any

from infra_cluster import (
    HDFS_DATANODE_PORTS,
    HDFS_NAMENODE_HTTP,
    HDFS_NAMENODE_RPC,
    HDFS_SECONDARY_HTTP,
    assert_service,
    groups,
    http_json,
    in_group,
)

testinfra_hosts = ["ansible://all"]


def test_namenode(host: Any) -> None:
    if in_group(host, "hdfs_namenode"):
        assert_service(host, "lendstream-hdfs-namenode", (HDFS_NAMENODE_RPC, HDFS_NAMENODE_HTTP))
    else:
        assert not host.service("lendstream-hdfs-namenode").is_running


def test_secondary_namenode(host: Any) -> None:
    if in_group(host, "hdfs_secondary"):
        assert_service(host, "lendstream-hdfs-secondarynamenode", (HDFS_SECONDARY_HTTP,))
    else:
        assert not host.service("lendstream-hdfs-secondarynamenode").is_running


def test_datanode(host: Any) -> None:
    if in_group(host, "hdfs_datanode"):
        assert_service(host, "lendstream-hdfs-datanode", HDFS_DATANODE_PORTS)
    else:
        assert not host.service("lendstream-hdfs-datanode").is_running


def test_namenode_is_out_of_safe_mode_with_every_datanode_live(host: Any) -> None:
    namenode = groups(host)["hdfs_namenode"][0]
    state = http_json(
        host,
        f"http://{namenode}:{HDFS_NAMENODE_HTTP}/jmx"
        "?qry=Hadoop:service=NameNode,name=FSNamesystemState",
    )["beans"][0]
    assert state["FSState"] == "Operational"
    assert state["NumLiveDataNodes"] == len(groups(host)["hdfs_datanode"])
    assert state["NumDeadDataNodes"] == 0


def test_node_reaches_the_namenode(host: Any) -> None:
    namenode = groups(host)["hdfs_namenode"][0]
    for port in (HDFS_NAMENODE_RPC, HDFS_NAMENODE_HTTP):
        assert host.addr(namenode).port(port).is_reachable, (namenode, port)


def test_node_reaches_every_datanode(host: Any) -> None:
    for datanode in groups(host)["hdfs_datanode"]:
        assert host.addr(datanode).port(HDFS_DATANODE_PORTS[0]).is_reachable, datanode


def test_namenode_format_ran_once(host: Any) -> None:
    if not in_group(host, "hdfs_namenode"):
        return
    # The metadata directory is the hdfs user's alone (0700).
    with host.sudo():
        version = host.file("/var/lib/lendstream/hdfs/namenode/current/VERSION")
        assert version.exists
        assert "clusterID=lendstream" in version.content_string
