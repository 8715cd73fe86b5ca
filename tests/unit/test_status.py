"""The pure parts of `lendstream status`: what each probe answered → rows, problems and the
verdict; the command's exit status when it cannot run. The probes themselves run against the
simulated cluster in tests/cluster/test_cluster_status.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lendstream import cli
from lendstream.status.cli import vault_password_file
from lendstream.status.readings import (
    HostAnswer,
    NameNodeReading,
    PipelineLimits,
    RiskLatency,
    StormReading,
    ad_hoc_answers,
    alerts_component,
    bucket_increase,
    hbase_component,
    hbase_master_reading,
    hdfs_component,
    histogram_buckets,
    histogram_quantile,
    kafka_component,
    namenode_reading,
    pipeline_component,
    port_answers,
    srvr_mode,
    storm_component,
    summed_buckets,
    unit_states,
    units_component,
    yarn_component,
    zookeeper_component,
)
from lendstream.status.report import Component, Report, Row

SRVR_FOLLOWER = """Zookeeper version: 3.9.5-abc, built on 2025-01-01 00:00 UTC
Latency min/avg/max: 0/0.4/12
Received: 1200
Sent: 1199
Connections: 3
Outstanding: 0
Zxid: 0x100000042
Mode: follower
Node count: 57
"""

LIMITS = PipelineLimits(dead_letter_ratio=0.05, p99_latency_s=0.5, max_lag=1000)


def test_srvr_mode_reads_the_mode_line_and_none_without_one() -> None:
    assert srvr_mode(SRVR_FOLLOWER) == "follower"
    assert srvr_mode(SRVR_FOLLOWER.replace("follower", "leader")) == "leader"
    assert srvr_mode("This ZooKeeper instance is not currently serving requests\n") is None


def test_zookeeper_needs_every_member_serving_and_exactly_one_leader() -> None:
    healthy = zookeeper_component({"m1": "follower", "m2": "leader", "m3": "follower"})
    assert healthy.all_problems() == []
    one_down = zookeeper_component({"m1": "follower", "m2": "leader", "m3": None})
    assert one_down.all_problems() == ["zookeeper member not answering on m3"]
    no_leader = zookeeper_component({"m1": "follower", "m2": "follower", "m3": None})
    assert "zookeeper: no leader" in no_leader.all_problems()
    two = zookeeper_component({"m1": "leader", "m2": "leader", "m3": "follower"})
    assert "zookeeper: 2 leaders (m1, m2)" in two.all_problems()


def test_namenode_jmx_gives_the_ha_state_safe_mode_and_live_datanodes() -> None:
    status = {"beans": [{"name": "Hadoop:service=NameNode,name=NameNodeStatus", "State": "active"}]}
    live = {"w1.lendstream.internal:9866": {}, "w2.lendstream.internal:9866": {}}
    info = {"beans": [{"LiveNodes": json.dumps(live), "Safemode": ""}]}
    reading = namenode_reading(status, info)
    assert reading == NameNodeReading("active", "Operational", frozenset({"w1", "w2"}))
    safe = namenode_reading(status, {"beans": [{"LiveNodes": "{}", "Safemode": "Safe mode is ON"}]})
    assert safe.fs_state == "safeMode"
    assert namenode_reading({"beans": []}, {"beans": []}).state == "unknown"


def test_hdfs_wants_one_active_namenode_out_of_safe_mode_and_every_datanode_live() -> None:
    active = NameNodeReading("active", "Operational", frozenset({"w1", "w2"}))
    standby = NameNodeReading("standby")
    whole = hdfs_component({"m1": active, "m2": standby}, ["w1", "w2"])
    assert whole.all_problems() == []
    missing = hdfs_component({"m1": active, "m2": NameNodeReading(None)}, ["w1", "w2", "w3"])
    assert missing.all_problems() == [
        "hdfs namenode not answering on m2",
        "hdfs datanode not live on w3",
    ]
    none = hdfs_component({"m1": standby, "m2": standby}, ["w1"])
    assert "hdfs: no active NameNode" in none.all_problems()
    in_safe_mode = NameNodeReading("active", "safeMode", frozenset({"w1"}))
    assert "hdfs: NameNode m1 is in safe mode" in (
        hdfs_component({"m1": in_safe_mode}, ["w1"]).all_problems()
    )


def test_yarn_wants_one_active_resourcemanager_running_every_nodemanager() -> None:
    running = ["w1.lendstream.internal", "w2.lendstream.internal"]
    whole = yarn_component({"m2": "ACTIVE", "m3": "STANDBY"}, running, ["w1", "w2"])
    assert whole.all_problems() == []
    assert [r.state for r in whole.rows[:2]] == ["active", "standby"]
    both_standby = yarn_component({"m2": "STANDBY", "m3": "STANDBY"}, None, ["w1"])
    assert both_standby.all_problems() == [
        "yarn nodemanager unknown on w1",
        "yarn: no active ResourceManager",
    ]


def test_hbase_master_jmx_and_component() -> None:
    bean = {
        "tag.isActiveMaster": "true",
        "tag.liveRegionServers": ";".join(f"w{n}.lendstream.internal,16020,170{n}" for n in (1, 2)),
        "tag.deadRegionServers": "w3.lendstream.internal,16020,1650",
    }
    active = hbase_master_reading({"beans": [bean]})
    assert active == {"active": True, "live": ["w1", "w2"], "dead": ["w3"]}
    backup = hbase_master_reading({"beans": [{"tag.isActiveMaster": "false"}]})
    component = hbase_component(
        {"m1": active, "m3": backup}, ["w1", "w2", "w3"], {"w1": None, "w2": "timed out"}
    )
    assert component.all_problems() == [
        "hbase regionserver not live on w3",
        "hbase thrift not answering (timed out) on w2",
        "hbase: dead RegionServers: w3",
    ]
    writes = {"w1": {"a1": 10, "b2": 1_500}, "w2": {"error": "timed out"}}
    spread = hbase_component({"m1": active}, ["w1", "w2"], {}, writes, "members")
    assert [row.state for row in spread.rows[1:]] == [
        "live · members: 2 regions, 1,510 writes",
        "live · members writes not read",
    ]
    two_active = hbase_component({"m1": active, "m3": active}, [], {})
    assert two_active.all_problems() == ["hbase: 2 active masters (m1, m3)"]
    unreadable = hbase_component({"m1": {"error": "refused"}}, ["w1"], {})
    assert "hbase: no active master" in unreadable.all_problems()


def test_each_thrift_port_is_judged_by_the_wait_for_its_own_node_ran() -> None:
    # The Thrift servers listen on their node's loopback: one ad-hoc wait_for over the group.
    document = {
        "plays": [
            {
                "tasks": [
                    {
                        "hosts": {
                            "w1": {"changed": False, "elapsed": 0, "port": 9090},
                            "w2": {
                                "failed": True,
                                "msg": "Timeout when waiting for 127.0.0.1:9090",
                            },
                            "w3": {"unreachable": True, "msg": "ssh: no route to host"},
                        }
                    }
                ]
            }
        ]
    }
    answers = port_answers(["w1", "w2", "w3", "w4"], ad_hoc_answers(document))
    assert answers == {
        "w1": None,
        "w2": "Timeout when waiting for 127.0.0.1:9090",
        "w3": "unreachable",
        "w4": "no answer",
    }
    component = hbase_component({}, [], answers)
    assert [(row.node, row.state) for row in component.rows if row.role == "thrift"][:2] == [
        ("w1", "answers"),
        ("w2", "not answering (Timeout when waiting for 127.0.0.1:9090)"),
    ]


def test_kafka_wants_a_quorum_leader_every_broker_registered_and_no_lagging_replica() -> None:
    reading = {
        "brokers": {"4": "w1", "5": "w2"},
        "quorum": {"leader_id": 2, "voters": {"1": "m1", "2": "m2", "3": "m3"}},
        "under_replicated": [],
        "offline": [],
    }
    whole = kafka_component(["m1", "m2", "m3"], ["w1", "w2"], reading)
    assert whole.all_problems() == []
    assert [r.state for r in whole.rows[:3]] == ["voter (id 1)", "leader (id 2)", "voter (id 3)"]
    broken = dict(
        reading,
        brokers={"4": "w1"},
        quorum={"leader_id": -1, "voters": {"1": "m1", "2": "m2", "3": "m3"}},
        under_replicated=["lendstream.applicants-0"],
    )
    assert kafka_component(["m1", "m2", "m3"], ["w1", "w2"], broken).all_problems() == [
        "kafka broker not registered on w2",
        "kafka: controller quorum has no leader",
        "kafka: under-replicated partitions: lendstream.applicants-0",
    ]
    unread = kafka_component(["m1"], ["w1"], {"error": "no Kafka broker answers"})
    assert unread.all_problems()[-1] == "kafka: not read (no Kafka broker answers)"


def test_storm_wants_a_leading_nimbus_every_supervisor_and_the_topology_active() -> None:
    reading = StormReading(
        nimbus_leader="m2",
        nimbuses=frozenset({"m1", "m2", "m3"}),
        supervisors=frozenset({"w1", "w2"}),
        topologies={"lendstream": "ACTIVE"},
    )
    assert (
        storm_component(["m1", "m2", "m3"], ["w1", "w2"], reading, "lendstream").all_problems()
        == []
    )
    killed = StormReading(None, frozenset({"m1"}), frozenset({"w1"}), {"lendstream": "KILLED"})
    assert storm_component(["m1", "m2"], ["w1", "w2"], killed, "lendstream").all_problems() == [
        "storm nimbus not listed on m2",
        "storm supervisor missing on w2",
        "storm topology lendstream KILLED",
        "storm: no leading nimbus",
    ]


def exposition(instance_counts: list[float]) -> str:
    """A risk service's /metrics with /v1/score latency buckets (cumulative counts) and a
    /healthz series that must not be counted."""
    bounds = ["0.01", "0.025", "0.05", "0.1", "+Inf"]
    metric = "lendstream_risk_request_duration_seconds"
    lines = [f"# TYPE {metric} histogram"]
    for bound, count in zip(bounds, instance_counts, strict=True):
        lines.append(f'{metric}_bucket{{le="{bound}",route="/v1/score"}} {count}')
        lines.append(f'{metric}_bucket{{le="{bound}",route="/healthz"}} 1000.0')
    lines.append(
        f'lendstream_risk_request_duration_seconds_count{{route="/v1/score"}} {instance_counts[-1]}'
    )
    lines.append('lendstream_risk_request_duration_seconds_sum{route="/v1/score"} 1.0')
    return "\n".join(lines) + "\n"


def test_p99_from_the_prometheus_histogram_interpolates_like_histogram_quantile() -> None:
    one = histogram_buckets(
        exposition([50, 90, 98, 100, 100]),
        "lendstream_risk_request_duration_seconds",
        {"route": "/v1/score"},
    )
    assert one == {0.01: 50, 0.025: 90, 0.05: 98, 0.1: 100, float("inf"): 100}
    # rank 99 of 100 falls halfway through (0.05, 0.1]
    assert histogram_quantile(0.99, one) == pytest.approx(0.075)
    assert histogram_quantile(0.5, one) == pytest.approx(0.01)
    two = summed_buckets([one, one])
    assert two[0.1] == 200
    assert histogram_quantile(0.99, two) == pytest.approx(0.075)
    # beyond the highest finite bound: that bound, as Prometheus answers
    slow = {0.1: 10.0, float("inf"): 100.0}
    assert histogram_quantile(0.99, slow) == 0.1
    assert histogram_quantile(0.99, {0.1: 0.0, float("inf"): 0.0}) is None


def test_pipeline_rows_lag_dead_letter_rate_and_p99_against_their_limits() -> None:
    sections = {
        "lag": {"partitions": {"0": 10, "1": 5}},
        "recent": {"window_s": 300, "applicants": 1000, "dead_letters": 20},
        "applicant_api": {"m3": None},
    }
    fast = RiskLatency(window_s=12.0, requests=300, p99_s=0.12, since_start_p99_s=0.4)
    fine = pipeline_component({"w1": None}, fast, sections, LIMITS)
    assert fine.all_problems() == []
    states = {row.role: row.state for row in fine.rows}
    assert states["consumer lag"] == "15 records behind over 2 partitions"
    assert states["dead letters"].startswith(
        "20 in the last 5 min for 1,000 applicants published (2.0%"
    )
    assert states["risk p99 /v1/score"] == (
        "120 ms over the last 12 s (300 requests; limit 500 ms); 400 ms since the services started"
    )
    bad = {
        "lag": {"partitions": {"0": 2000}},
        "recent": {"window_s": 300, "applicants": 100, "dead_letters": 20},
        "applicant_api": {"m3": "HTTP 503"},
    }
    slow = RiskLatency(window_s=12.0, requests=300, p99_s=0.9, since_start_p99_s=0.9)
    problems = pipeline_component({"w1": "URLError: refused"}, slow, bad, LIMITS).all_problems()
    assert [p.split(" ")[1] for p in problems] == ["risk", "consumer", "dead", "risk", "applicant"]
    few = dict(sections, recent={"window_s": 300, "applicants": 10, "dead_letters": 5})
    assert pipeline_component({}, fast, few, LIMITS).all_problems() == []
    seldom = RiskLatency(window_s=25.0, requests=75, p99_s=1.375, since_start_p99_s=0.644)
    assert pipeline_component({}, seldom, sections, LIMITS).all_problems() == []
    # No request between the two scrapes: the p99 since the services started is shown, not judged.
    idle = RiskLatency(window_s=12.0, requests=0, p99_s=None, since_start_p99_s=2.0)
    unread = {"lag": {"error": "x"}, "recent": {"error": "x"}}
    quiet = pipeline_component({}, idle, unread, LIMITS)
    assert len(quiet.all_problems()) == 2
    assert quiet.rows[-1].state == "no request in the last 12 s; 2000 ms since the services started"


def test_the_latency_window_is_the_increase_between_two_scrapes_unless_a_service_restarted() -> (
    None
):
    earlier = {0.1: 100.0, float("inf"): 110.0}
    assert bucket_increase({0.1: 150.0, float("inf"): 160.0}, earlier) == {
        0.1: 50.0,
        float("inf"): 50.0,
    }
    assert bucket_increase({0.1: 3.0, float("inf"): 3.0}, earlier) is None


def test_unit_states_from_systemctl_show() -> None:
    show = "\n\n".join(
        [
            "Id=lendstream-kafka.service\nType=simple\nLoadState=loaded\nActiveState=active\nResult=success",
            "Id=lendstream-ssh-host-keys.service\nType=oneshot\nLoadState=loaded\n"
            "ActiveState=inactive\nResult=success",
            "Id=lendstream-hbase-thrift.service\nType=simple\nLoadState=loaded\n"
            "ActiveState=failed\nResult=exit-code",
            "Id=lendstream-gone.service\nType=simple\nLoadState=not-found\nActiveState=inactive\nResult=success",
        ]
    )
    states = unit_states(show + "\n")
    assert {unit: (s.state, s.healthy) for unit, s in states.items()} == {
        "lendstream-kafka": ("active", True),
        "lendstream-ssh-host-keys": ("ran (oneshot)", True),
        "lendstream-hbase-thrift": ("failed (exit-code)", False),
    }


def test_every_inventory_node_is_listed_a_silent_one_as_down() -> None:
    document = {
        "plays": [
            {
                "tasks": [
                    {
                        "hosts": {
                            "m1": {
                                "stdout": "Id=lendstream-zookeeper.service\nType=notify\n"
                                "LoadState=loaded\nActiveState=active\nResult=success",
                                "rc": 0,
                            },
                            "w1": {"unreachable": True, "msg": "ssh: connect timed out"},
                        }
                    }
                ]
            }
        ]
    }
    answers = ad_hoc_answers(document)
    assert answers["w1"] == HostAnswer(None, "unreachable")
    component = units_component(["m1", "w1", "w2"], answers)
    assert [(r.node, r.role, r.healthy) for r in component.rows] == [
        ("m1", "units", True),
        ("w1", "node", False),
        ("w2", "node", False),
    ]


def test_alerts_only_when_an_alertmanager_answers_and_each_firing_one_is_a_problem() -> None:
    assert alerts_component({"m2": None}) is None
    quiet = alerts_component({"m2": []})
    assert quiet is not None
    assert quiet.all_problems() == []
    firing = alerts_component(
        {
            "m2": [
                {"labels": {"alertname": "NodeDown", "instance": "w3:9100", "severity": "critical"}}
            ]
        }
    )
    assert firing is not None
    assert firing.all_problems() == ["alerts alert NodeDown firing critical on w3:9100"]


def test_the_text_merges_healthy_neighbours_and_keeps_each_problem_on_its_own_row() -> None:
    rows = [Row(f"w{n}", "datanode", "live") for n in (1, 2, 3)]
    rows += [Row("w4", "datanode", "not live", False), Row("w5", "datanode", "not live", False)]
    text = Report([Component("hdfs", rows)]).as_text().splitlines()
    assert text[1:4] == [
        "   w1,w2,w3  datanode  live",
        " ! w4        datanode  not live",
        " ! w5        datanode  not live",
    ]


def test_the_verdict_names_every_problem_and_the_text_ends_with_it() -> None:
    healthy = Report([Component("zookeeper", [Row("m1", "member", "leader")])])
    assert healthy.healthy
    assert healthy.as_text().splitlines()[-1] == "HEALTHY"
    sick = Report(
        [
            Component("zookeeper", [Row("m1", "member", "leader")]),
            Component(
                "kafka",
                [
                    Row("w1", "broker", "not registered", False),
                    Row("w2", "broker", "not registered", False),
                ],
                ["controller quorum has no leader"],
            ),
        ]
    )
    assert not sick.healthy
    text = sick.as_text()
    assert text.splitlines()[-1] == (
        "UNHEALTHY: kafka broker not registered on w1, w2; kafka: controller quorum has no leader"
    )
    assert " ! w1  broker  not registered" in text
    document = json.loads(sick.as_json())
    assert document["healthy"] is False
    assert document["components"][1]["rows"][0]["node"] == "w1"


def test_status_exits_2_when_the_inventory_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["status", "--inventory", str(tmp_path / "none.yml")]) == 2
    assert "no inventory" in capsys.readouterr().err


def test_the_vault_password_file_defaults_to_the_inventory_directory_s_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inventory = tmp_path / "inventories" / "montana" / "inventory.yml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    assert vault_password_file(inventory, None) is None
    default = tmp_path / "config" / "lendstream" / "vault" / "montana.pass"
    default.parent.mkdir(parents=True)
    default.write_text("secret\n")
    assert vault_password_file(inventory, None) == default
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(tmp_path / "other.pass"))
    assert vault_password_file(inventory, None) == tmp_path / "other.pass"
    assert vault_password_file(inventory, tmp_path / "given.pass") == tmp_path / "given.pass"
