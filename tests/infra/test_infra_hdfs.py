"""HDFS: daemons running and enabled on their groups' hosts, ports listening on the node's
address, one active NameNode (the other standby with HA) out of safe mode with every DataNode
live, nodes reaching the NameNodes. Two hosts in hdfs_namenode mean NameNode HA: a ZKFC beside
each NameNode, JournalNodes on hdfs_journalnode, no SecondaryNameNode. Service-level
authorization open to the inventory's addresses only; WebHDFS refusing every named user."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_cluster import (
    HADOOP_CONF_DIR,
    HADOOP_WEB_PORTS,
    HDFS_DATANODE_PORTS,
    HDFS_JOURNALNODE_RPC,
    HDFS_NAMENODE_RPC,
    HDFS_ZKFC,
    address,
    assert_service,
    groups,
    hadoop_properties,
    hadoop_web_port,
    hadoop_web_url,
    http_answer,
    http_json,
    in_group,
    inventory_addresses,
    pipeline_tls,
    variables,
)

testinfra_hosts = ["ansible://all"]


def high_availability(host: Any) -> bool:
    return len(groups(host)["hdfs_namenode"]) > 1


def namenode_states(host: Any) -> dict[str, str]:
    """Each NameNode's HA state (active, standby; a NameNode without HA reports active)."""
    return {
        namenode: http_json(
            host,
            hadoop_web_url(
                host, namenode, "namenode", "/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus"
            ),
        )["beans"][0]["State"]
        for namenode in groups(host)["hdfs_namenode"]
    }


def test_namenode(host: Any) -> None:
    if in_group(host, "hdfs_namenode"):
        web = hadoop_web_port(host, "namenode")
        assert_service(host, "lendstream-hdfs-namenode", (HDFS_NAMENODE_RPC, web))
    else:
        assert not host.service("lendstream-hdfs-namenode").is_running


def test_failover_controller_beside_each_namenode_with_ha(host: Any) -> None:
    if high_availability(host) and in_group(host, "hdfs_namenode"):
        assert_service(host, "lendstream-hdfs-zkfc", (HDFS_ZKFC,))
    else:
        assert not host.service("lendstream-hdfs-zkfc").is_running


def test_journalnode_with_ha(host: Any) -> None:
    if high_availability(host) and in_group(host, "hdfs_journalnode"):
        web = hadoop_web_port(host, "journalnode")
        assert_service(host, "lendstream-hdfs-journalnode", (HDFS_JOURNALNODE_RPC, web))
    else:
        assert not host.service("lendstream-hdfs-journalnode").is_running


def test_secondary_namenode(host: Any) -> None:
    if in_group(host, "hdfs_secondary") and not high_availability(host):
        web = hadoop_web_port(host, "secondarynamenode")
        assert_service(host, "lendstream-hdfs-secondarynamenode", (web,))
    else:
        assert not host.service("lendstream-hdfs-secondarynamenode").is_running


def test_datanode(host: Any) -> None:
    if in_group(host, "hdfs_datanode"):
        web = hadoop_web_port(host, "datanode")
        assert_service(host, "lendstream-hdfs-datanode", (*HDFS_DATANODE_PORTS, web))
    else:
        assert not host.service("lendstream-hdfs-datanode").is_running


@pytest.mark.cluster_wide
def test_one_namenode_is_active_and_the_other_standby(host: Any) -> None:
    states = sorted(namenode_states(host).values())
    assert states == (["active", "standby"] if high_availability(host) else ["active"]), states


@pytest.mark.cluster_wide
def test_namenode_is_out_of_safe_mode_with_every_datanode_live(host: Any) -> None:
    namenode = next(name for name, state in namenode_states(host).items() if state == "active")
    state = http_json(
        host,
        hadoop_web_url(
            host, namenode, "namenode", "/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"
        ),
    )["beans"][0]
    assert state["FSState"] == "Operational"
    assert state["NumLiveDataNodes"] == len(groups(host)["hdfs_datanode"])
    assert state["NumDeadDataNodes"] == 0


def test_node_reaches_the_namenodes(host: Any) -> None:
    for namenode in groups(host)["hdfs_namenode"]:
        for port in (HDFS_NAMENODE_RPC, hadoop_web_port(host, "namenode")):
            assert host.addr(namenode).port(port).is_reachable, (namenode, port)


def test_node_reaches_every_datanode(host: Any) -> None:
    for datanode in groups(host)["hdfs_datanode"]:
        assert host.addr(datanode).port(HDFS_DATANODE_PORTS[0]).is_reachable, datanode


@pytest.mark.in_groups("hdfs_namenode")
def test_namenode_format_ran_once(host: Any) -> None:
    # The metadata directory is the hdfs user's alone (0700).
    with host.sudo():
        version = host.file("/var/lib/lendstream/hdfs/namenode/current/VERSION")
        assert version.exists
        assert "clusterID=lendstream" in version.content_string


HADOOP_GROUPS = (
    "hdfs_namenode",
    "hdfs_journalnode",
    "hdfs_secondary",
    "hdfs_datanode",
    "yarn_resourcemanager",
    "yarn_nodemanager",
)


@pytest.mark.in_groups(*HADOOP_GROUPS)
def test_service_level_authorization_admits_the_inventory_hosts_only(host: Any) -> None:
    """Every Hadoop RPC server on the node (HDFS's, YARN's) reads core-site.xml's switch and
    hadoop-policy.xml: the hosts list is every inventory host's address, nothing else."""
    assert hadoop_properties(host, "core-site.xml")["hadoop.security.authorization"] == "true"
    policy = hadoop_properties(host, "hadoop-policy.xml")
    hosts = set(policy["security.service.authorization.default.hosts"].split(","))
    assert hosts == inventory_addresses(host)
    assert policy["security.service.authorization.default.acl"] == "*"


DATA_TRANSFER_ENCRYPTION = {
    "dfs.block.access.token.enable": "true",
    "dfs.encrypt.data.transfer": "true",
    "dfs.encrypt.data.transfer.cipher.suites": "AES/CTR/NoPadding",
    "dfs.encrypt.data.transfer.cipher.key.bitlength": "256",
}


@pytest.mark.in_groups(*HADOOP_GROUPS)
def test_data_transfer_is_encrypted_exactly_with_lendstream_tls(host: Any) -> None:
    """Every node with the Hadoop configuration (HDFS's daemons and its clients: HBase, YARN, the
    tools) has block access tokens and AES data transfer encryption exactly with lendstream_tls,
    and this node's NameNode and DataNode run with what the file says (their /conf servlets)."""
    properties = hadoop_properties(host, "hdfs-site.xml")
    rendered = {name: properties.get(name) for name in DATA_TRANSFER_ENCRYPTION}
    expected = "true" if pipeline_tls(host) else "false"
    if pipeline_tls(host):
        assert rendered == DATA_TRANSFER_ENCRYPTION
    else:
        assert set(rendered.values()) == {None}, rendered
    running = []
    if in_group(host, "hdfs_namenode"):
        running.append((variables(host)["inventory_hostname"], "namenode"))
    if in_group(host, "hdfs_datanode"):
        running.append((address(host), "datanode"))
    for node, daemon in running:
        url = hadoop_web_url(host, node, daemon, "/conf?name=dfs.encrypt.data.transfer")
        answer = http_json(host, url)
        assert answer["property"]["value"] == expected, (url, answer)


@pytest.mark.in_groups("hdfs_namenode", "hdfs_datanode")
def test_webhdfs_refuses_every_named_user(host: Any) -> None:
    """Hadoop 3.4 cannot turn WebHDFS off: its user pattern matches no name, so a request as
    user hdfs is refused (HTTP 400) by the NameNode, and by the DataNode, which needs a user."""
    assert hadoop_properties(host, "hdfs-site.xml")["dfs.webhdfs.user.provider.user.pattern"] == (
        "(?!)"
    )
    node = variables(host)["inventory_hostname"]
    namenode = groups(host)["hdfs_namenode"][0]
    requests = []
    if in_group(host, "hdfs_namenode"):
        requests.append(("namenode", "/webhdfs/v1/?op=LISTSTATUS&user.name=hdfs"))
    if in_group(host, "hdfs_datanode"):
        requests.append(
            (
                "datanode",
                "/webhdfs/v1/hbase/hbase.version?op=OPEN&user.name=hdfs"
                f"&namenoderpcaddress={namenode}:{HDFS_NAMENODE_RPC}",
            )
        )
    for daemon, path in requests:
        status, body = http_answer(host, hadoop_web_url(host, node, daemon, path))
        assert status == 400, (daemon, status, body[:300])
        message = json.loads(body)["RemoteException"]["message"]
        assert message.endswith('Invalid value: "hdfs" does not belong to the domain (?!)'), message


# The hdfs role's web TLS files (tasks/tls.yml): the stores, and the two files with their password.
TLS_FILES = ("ssl-server.xml", "ssl-client.xml", "tls/keystore.p12", "tls/truststore.p12")
WEB_DAEMON_GROUPS = {
    "namenode": "hdfs_namenode",
    "journalnode": "hdfs_journalnode",
    "datanode": "hdfs_datanode",
    "resourcemanager": "yarn_resourcemanager",
    "nodemanager": "yarn_nodemanager",
}


@pytest.mark.in_groups(*HADOOP_GROUPS)
def test_web_servers_serve_https_only_exactly_with_lendstream_tls(host: Any) -> None:
    """With lendstream_tls every Hadoop web server on the node serves its HTTPS port only (HDFS's
    dfs.http.policy, YARN's yarn.http.policy: HTTPS_ONLY), from the PKCS12 stores the hdfs role
    made from role pki's files, which only root and the daemons' group read; without it HTTP
    only. The HTTPS answers are verified against the deployment CA (the checks above)."""
    tls = pipeline_tls(host)
    policy = "HTTPS_ONLY" if tls else "HTTP_ONLY"
    assert hadoop_properties(host, "hdfs-site.xml")["dfs.http.policy"] == policy
    if in_group(host, "yarn_resourcemanager") or in_group(host, "yarn_nodemanager"):
        assert hadoop_properties(host, "yarn-site.xml")["yarn.http.policy"] == policy
    if tls:
        with host.sudo():
            for name in TLS_FILES:
                stored = host.file(f"{HADOOP_CONF_DIR}/{name}")
                assert (stored.user, stored.group, stored.mode) == ("root", "hadoop", 0o640), name
    served = [daemon for daemon, group in WEB_DAEMON_GROUPS.items() if in_group(host, group)]
    if "journalnode" in served and len(groups(host)["hdfs_namenode"]) < 2:
        served.remove("journalnode")  # JournalNodes run with NameNode HA only
    for daemon in served:
        http, https = HADOOP_WEB_PORTS[daemon]
        serving, silent = (https, http) if tls else (http, https)
        assert host.socket(f"tcp://{address(host)}:{serving}").is_listening, (daemon, serving)
        assert not host.socket(f"tcp://{address(host)}:{silent}").is_listening, (daemon, silent)
