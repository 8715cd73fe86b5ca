"""HBase: masters (active and backup), RegionServers and Thrift servers on their hosts; exactly
one master is active (whichever: a failover or a rolling restart moves it), and it counts every
RegionServer live."""

from __future__ import annotations

from typing import Any

import pytest
from infra_cluster import (
    HBASE_MASTER_HTTP,
    HBASE_MASTER_PORTS,
    HBASE_REGIONSERVER_PORTS,
    HBASE_THRIFT,
    assert_service,
    groups,
    http_json,
    in_group,
)

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


def test_thrift_servers_run_on_their_hosts(host: Any) -> None:
    if in_group(host, "hbase_thrift"):
        assert_service(host, "lendstream-hbase-thrift", (HBASE_THRIFT,))
    else:
        assert not host.service("lendstream-hbase-thrift").is_running


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
