"""HBase: masters (active and backup), RegionServers and Thrift servers on their hosts, the Thrift
servers (and their web UI) on 127.0.0.1 only, reached from the controller through an SSH tunnel;
exactly one master is active (whichever: a failover or a rolling restart moves it), and it counts
every RegionServer live; with lendstream_tls HBase RPC speaks TLS only, mutual, with the node's
certificate from the deployment CA."""

from __future__ import annotations

import shlex
from typing import Any

import happybase
import pytest
from infra_cluster import (
    HBASE_MASTER_HTTP,
    HBASE_MASTER_PORTS,
    HBASE_REGIONSERVER_PORTS,
    HBASE_THRIFT,
    HBASE_THRIFT_INFO,
    TLS_CA_FILE,
    assert_service,
    groups,
    http_json,
    in_group,
    pipeline_tls,
    variables,
)
from testinfra.utils.ansible_runner import AnsibleRunner

from lendstream.ssh_tunnel import ansible_ssh_args, local_forward

testinfra_hosts = ["ansible://all"]


def test_masters_run_on_the_master_hosts(host: Any) -> None:
    if in_group(host, "hbase_master") or in_group(host, "hbase_backup_master"):
        assert_service(host, "lendstream-hbase-master", HBASE_MASTER_PORTS)
    else:
        assert not host.service("lendstream-hbase-master").is_running


def test_regionservers_run_on_their_hosts(host: Any) -> None:
    if in_group(host, "hbase_regionserver"):
        assert_service(host, "lendstream-hbase-regionserver", HBASE_REGIONSERVER_PORTS)
    else:
        assert not host.service("lendstream-hbase-regionserver").is_running


def test_thrift_servers_run_on_their_hosts_listening_on_loopback_only(host: Any) -> None:
    # happybase speaks neither TLS nor SASL: the Thrift server and its web UI listen on 127.0.0.1
    # alone (hbase_thrift_address), for the save bolts and tools on the same node.
    if not in_group(host, "hbase_thrift"):
        assert not host.service("lendstream-hbase-thrift").is_running
        return
    service = host.service("lendstream-hbase-thrift")
    assert service.is_running
    assert service.is_enabled
    with host.sudo():
        listeners = host.run("ss -Hltn").stdout.splitlines()
    for port in (HBASE_THRIFT, HBASE_THRIFT_INFO):
        addresses = sorted(
            fields[3].rpartition(":")[0]
            for fields in (line.split() for line in listeners)
            if fields[3].rpartition(":")[2] == str(port)
        )
        assert addresses == ["127.0.0.1"], (port, addresses)


def test_the_controller_reaches_a_loopback_thrift_server_through_an_ssh_tunnel(
    inventory: AnsibleRunner,
) -> None:
    # What a controller tool does (the hbase role's table creation): the host's own Ansible SSH
    # connection forwards a local port to its loopback, and happybase lists the tables there.
    # Runs once (no `host` fixture), through the first Thrift host.
    name = inventory.get_hosts("hbase_thrift")[0]
    variables = inventory.get_variables(name)
    port = int(variables.get("hbase_thrift_port", HBASE_THRIFT))
    with local_forward(ansible_ssh_args(variables, name), port) as local_port:
        connection = happybase.Connection("127.0.0.1", local_port, timeout=30_000)
        try:
            tables = connection.tables()
        finally:
            connection.close()
    assert b"members" in tables, tables


@pytest.mark.cluster_wide
def test_one_active_master_counts_every_regionserver_live(host: Any) -> None:
    masters = groups(host)["hbase_master"] + groups(host).get("hbase_backup_master", [])
    servers = {
        master: http_json(
            host,
            f"http://{master}:{HBASE_MASTER_HTTP}/jmx?qry=Hadoop:service=HBase,name=Master,"
            "sub=Server",
        )["beans"][0]
        for master in masters
    }
    active = [m for m, server in servers.items() if server["tag.isActiveMaster"] in (True, "true")]
    assert len(active) == 1, f"active HBase masters: {active or 'none'} of {masters}"
    server = servers[active[0]]
    assert server["numRegionServers"] == len(groups(host)["hbase_regionserver"])
    assert server["numDeadRegionServers"] == 0


HBASE_CONF = "/etc/lendstream/hbase"  # the role's hbase_conf_dir
NODE_CERT, NODE_KEY = "/etc/lendstream/tls/node.crt", "/etc/lendstream/tls/node.key"
# A mutual TLS handshake with an HBase RPC port of this node: the node's own certificate as the
# client's, the server's verified against the deployment CA and the node's name.
TLS_HANDSHAKE = """
import socket, ssl, sys
name, port, ca, cert, key = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
context = ssl.create_default_context(cafile=ca)
context.load_cert_chain(cert, key)
with socket.create_connection((name, port), timeout=5) as raw:
    with context.wrap_socket(raw, server_hostname=name) as tls:
        print(tls.version(), dict(x[0] for x in tls.getpeercert()["subject"])["commonName"])
"""


def test_rpc_speaks_tls_only_with_lendstream_tls(host: Any) -> None:
    """hbase-site.xml turns RPC TLS on for servers and clients, plaintext refused, exactly with
    lendstream_tls; the keystore is 0640 root:hbase; this node's master and RegionServer RPC
    ports complete a mutual TLS handshake with its own certificate, signed by the deployment CA."""
    site_file = host.file(f"{HBASE_CONF}/hbase-site.xml")
    ports = [
        port
        for group, port in (
            ("hbase_master", HBASE_MASTER_PORTS[0]),
            ("hbase_backup_master", HBASE_MASTER_PORTS[0]),
            ("hbase_regionserver", HBASE_REGIONSERVER_PORTS[0]),
        )
        if in_group(host, group)
    ]
    if not site_file.exists:
        assert not ports
        return
    site = site_file.content_string
    tls = pipeline_tls(host)
    assert ("<name>hbase.server.netty.tls.enabled</name><value>true</value>" in site) == tls
    assert "<name>hbase.server.netty.tls.supportplaintext</name><value>true</value>" not in site
    if not tls:
        return
    assert "<name>hbase.client.netty.tls.enabled</name><value>true</value>" in site
    with host.sudo():
        keystore = host.file(f"{HBASE_CONF}/tls/keystore.pem")
        assert (keystore.user, keystore.group, keystore.mode) == ("root", "hbase", 0o640)
        name = variables(host)["inventory_hostname"]
        for port in sorted(set(ports)):
            result = host.run(
                f"python3 -c {shlex.quote(TLS_HANDSHAKE)} {shlex.quote(name)} {port} "
                f"{TLS_CA_FILE} {NODE_CERT} {NODE_KEY}"
            )
            assert result.rc == 0, f"{name}:{port}: {result.stderr[-800:]}"
            assert result.stdout.split()[1] == name, result.stdout
