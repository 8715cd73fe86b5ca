"""The cluster target read from an Ansible inventory (by the real ansible-inventory), and the
rendered sparse configuration the submission uses on a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from lendstream.pipeline.endpoints import split_list
from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.storm.cli import apply_overrides
from lendstream.storm.inventory import CLUSTER_TOKEN_FILE, cluster_target, inventory_groups
from lendstream.storm.jar import render_config

INVENTORIES = Path(__file__).resolve().parents[2] / "ansible" / "inventories"
MONTANA = INVENTORIES / "montana" / "hosts.yml"
WORKERS = [f"w{index}" for index in range(1, 7)]


def test_montana_target_lists_every_broker_risk_service_and_nimbus_and_the_local_thrift() -> None:
    target = cluster_target(MONTANA)
    groups, hostvars = inventory_groups(MONTANA)
    settings = target.settings
    assert split_list(settings.kafka_bootstrap_servers) == tuple(f"{w}:9092" for w in WORKERS)
    # Each save bolt writes through its own node's Thrift server, which listens on loopback only.
    assert settings.hbase_hosts == "127.0.0.1"
    assert set(groups["storm_supervisor"]) <= set(groups["hbase_thrift"])
    assert settings.hbase_port == 9090
    assert split_list(settings.risk_service_urls) == tuple(
        f"http://{host}:8090" for host in groups["risk_service"]
    )
    assert settings.risk_service_token_file == CLUSTER_TOKEN_FILE
    assert target.nimbus_seeds == {
        host: f"{hostvars[host]['ansible_host']}:6627" for host in ("m1", "m2", "m3")
    }
    assert target.supervisors == WORKERS


def test_inventory_ports_override_the_defaults(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        """
all:
  hosts:
    a: {ansible_host: 10.0.0.1, storm_nimbus_thrift_port: 7627}
    b: {kafka_broker_port: 19092, risk_service_port: 18090, hbase_thrift_port: 19090}
  children:
    storm_nimbus: {hosts: {a: }}
    storm_supervisor: {hosts: {b: }}
    kafka_broker: {hosts: {b: }}
    risk_service: {hosts: {b: }}
    hbase_thrift: {hosts: {b: }}
"""
    )
    target = cluster_target(inventory, token_file="/srv/token")
    assert target.nimbus_seeds == {"a": "10.0.0.1:7627"}
    assert target.settings.kafka_bootstrap_servers == "b:19092"
    assert target.settings.risk_service_urls == "http://b:18090"
    assert (target.settings.hbase_hosts, target.settings.hbase_port) == ("127.0.0.1", 19090)
    assert target.settings.risk_service_token_file == "/srv/token"


def test_an_inventory_without_a_needed_group_is_refused(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  children:\n    storm_nimbus: {hosts: {a: }}\n")
    with pytest.raises(ValueError, match="kafka_broker"):
        cluster_target(inventory)
    # A supervisor without a Thrift server of its own: its save bolt could write nowhere.
    inventory.write_text(
        "all:\n  children:\n    storm_supervisor: {hosts: {b: , c: }}\n"
        "    hbase_thrift: {hosts: {b: }}\n"
    )
    with pytest.raises(ValueError, match="supervisors without an HBase Thrift server: c;"):
        cluster_target(inventory)


def test_the_cluster_config_runs_the_workers_venv_with_the_cluster_settings() -> None:
    target = cluster_target(MONTANA)
    config = render_config("cluster", target.settings, "192.168.60.11:6627", "/opt/lendstream/venv")
    env = config["envs"]["cluster"]
    assert (env["virtualenv_root"], env["virtualenv_name"]) == ("/opt/lendstream", "venv")
    assert env["nimbus"] == "192.168.60.11:6627"
    assert TopologyConf.from_storm_conf(env["options"]) == target.settings


def test_overrides_are_typed_like_the_field() -> None:
    settings = apply_overrides(
        TopologyConf(), ["hbase_port=9191", "hbase_hosts=t1,t2", "spout_batch_records=100"]
    )
    assert (settings.hbase_port, settings.hbase_hosts) == (9191, "t1,t2")
    assert settings.spout_batch_records == 100
