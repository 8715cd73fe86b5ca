"""Storm: nimbus on every nimbus host (one leader), the UI, and one supervisor per worker."""

from __future__ import annotations

from typing import Any

import pytest
from infra_cluster import (
    STORM_NIMBUS_THRIFT,
    STORM_UI_HTTP,
    assert_service,
    groups,
    http_json,
    in_group,
    pipeline_tls,
)

from lendstream.chaos.cluster import role_default

testinfra_hosts = ["ansible://all"]


def test_daemons_run_exactly_on_their_hosts(host: Any) -> None:
    # Nimbus's Thrift server has no bind-address setting: it listens on every address.
    for group, unit, ports, all_addresses in (
        ("storm_nimbus", "lendstream-storm-nimbus", (), (STORM_NIMBUS_THRIFT,)),
        ("storm_ui", "lendstream-storm-ui", (STORM_UI_HTTP,), ()),
        ("storm_supervisor", "lendstream-storm-supervisor", (), ()),
    ):
        if in_group(host, group):
            assert_service(host, unit, ports, all_addresses)
        else:
            assert not host.service(unit).is_running, unit


@pytest.mark.cluster_wide
def test_one_nimbus_leads_and_every_supervisor_is_registered(host: Any) -> None:
    ui = f"http://{groups(host)['storm_ui'][0]}:{STORM_UI_HTTP}"
    nimbuses = http_json(host, f"{ui}/api/v1/nimbus/summary")["nimbuses"]
    statuses = sorted(nimbus["status"] for nimbus in nimbuses)
    assert statuses.count("Leader") == 1, statuses
    assert len(nimbuses) == len(groups(host)["storm_nimbus"])
    supervisors = http_json(host, f"{ui}/api/v1/supervisor/summary")["supervisors"]
    assert sorted(s["host"] for s in supervisors) == sorted(groups(host)["storm_supervisor"])


def test_node_reaches_every_nimbus(host: Any) -> None:
    for nimbus in groups(host)["storm_nimbus"]:
        assert host.addr(nimbus).port(STORM_NIMBUS_THRIFT).is_reachable, nimbus


def test_storm_yaml_carries_the_zookeeper_digest_only_to_root_and_storm(host: Any) -> None:
    """With lendstream_tls Storm authenticates to ZooKeeper (digest): the password is in
    storm.yaml, which only root and the storm group may read; without, there is none."""
    storm_yaml = host.file(f"{role_default('storm', 'storm_home_dir')}/conf/storm.yaml")
    if not any(in_group(host, g) for g in ("storm_nimbus", "storm_supervisor", "storm_ui")):
        assert not storm_yaml.exists  # the storm role runs on Storm's hosts only
        return
    with host.sudo():  # 0640 root:storm with the password
        secured = "storm.zookeeper.auth.scheme: digest" in storm_yaml.content_string
        owner = (storm_yaml.user, storm_yaml.group, storm_yaml.mode)
    assert secured == pipeline_tls(host)
    if secured:
        assert owner == ("root", "storm", 0o640)


def test_the_nimbus_registry_check_runs_beside_each_nimbus_only(host: Any) -> None:
    """lendstream-storm-nimbus-registry.timer on every nimbus host, as the Storm user, and its
    last run succeeded. (Whether every nimbus is in the registry, one leading:
    test_one_nimbus_leads_and_every_supervisor_is_registered.)"""
    timer = host.service("lendstream-storm-nimbus-registry.timer")
    service = "lendstream-storm-nimbus-registry.service"
    if not in_group(host, "storm_nimbus"):
        assert not host.file(f"/etc/systemd/system/{service}").exists
        return
    assert timer.is_enabled
    assert timer.is_running
    assert host.run(f"systemctl show -P User {service}").stdout.strip() == "storm"
    assert host.run(f"systemctl show -P Result {service}").stdout.strip() == "success"
