"""The Thrift → Storm UI JSON mapping, on structs built by hand (pure logic, no nimbus)."""

from __future__ import annotations

import pytest
from streamparse import thrift as storm
from thrift_structs import (
    bolt_executor,
    idle_executor,
    nimbus,
    spout_executor,
    supervisor,
    topology_summary,
    user_topology,
)

from lendstream.storm.nimbus import NimbusAddress
from lendstream.storm_ui import mapping

NOW = 2065


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (65, "1m 5s"), (3725, "1h 2m 5s"), (86400, "1d 0h 0m 0s"), (90061, "1d 1h 1m 1s")],
)
def test_pretty_uptime_matches_storms_form(seconds: int, text: str) -> None:
    assert mapping.pretty_uptime(seconds) == text


def _cluster(nimbuses: list) -> storm.ClusterSummary:
    return storm.ClusterSummary(
        supervisors=[
            supervisor("worker-2", slots=2, used=2, supervisor_id="sup-b"),
            supervisor("worker-1", slots=4, used=1, supervisor_id="sup-a", uptime_secs=3725),
        ],
        topologies=[
            topology_summary("lendstream-1-100", "lendstream", executors=5, tasks=7),
            topology_summary("audit-2-200", "audit", executors=3, tasks=4),
        ],
        nimbuses=nimbuses,
    )


def test_cluster_summary_sums_supervisors_and_topologies() -> None:
    cluster = _cluster([nimbus("master-2", 6627, False, "2.8.2"), nimbus("master-1", 6627, True)])
    summary = mapping.cluster_summary_json(cluster)
    assert summary["stormVersion"] == "2.8.3"  # the leader's, not the first listed
    assert summary["supervisors"] == 2
    assert summary["topologies"] == 2
    assert (summary["slotsTotal"], summary["slotsUsed"], summary["slotsFree"]) == (6, 3, 3)
    assert (summary["executorsTotal"], summary["tasksTotal"]) == (8, 11)
    assert (summary["totalMem"], summary["totalCpu"]) == (8192.0, 400.0)
    assert (summary["availMem"], summary["memAssignedPercentUtil"]) == (8192.0, 0.0)


def test_cluster_version_without_a_leader_is_some_nimbuss() -> None:
    cluster = _cluster([nimbus("master-2", 6627, False, "2.8.2")])
    assert mapping.cluster_summary_json(cluster)["stormVersion"] == "2.8.2"
    assert mapping.cluster_summary_json(_cluster([]))["stormVersion"] == "unknown"


def test_supervisor_summary_lists_each_supervisor_by_host() -> None:
    document = mapping.supervisor_summary_json(_cluster([]))
    first, second = document["supervisors"]
    assert first == {
        "id": "sup-a",
        "host": "worker-1",
        "uptime": "1h 2m 5s",
        "uptimeSeconds": 3725,
        "slotsTotal": 4,
        "slotsUsed": 1,
        "slotsFree": 3,
        "totalMem": 4096.0,
        "totalCpu": 200.0,
        "usedMem": 0.0,
        "usedCpu": 0.0,
        "version": "2.8.3",
    }
    assert (second["host"], second["slotsFree"]) == ("worker-2", 0)


def test_nimbus_summary_puts_the_leader_first_and_marks_silent_seeds_offline() -> None:
    cluster = _cluster([nimbus("master-2", 6627, False), nimbus("master-1", 6627, True)])
    seeds = [
        NimbusAddress("master-1", 6627),
        NimbusAddress("master-2", 6627),
        NimbusAddress("master-3", 6627),
    ]
    nimbuses = mapping.nimbus_summary_json(cluster, seeds)["nimbuses"]
    assert [(n["host"], n["status"]) for n in nimbuses] == [
        ("master-1", "Leader"),
        ("master-2", "Not a Leader"),
        ("master-3", "Offline"),
    ]
    assert nimbuses[0]["nimbusUpTime"] == "1h 2m 5s"
    assert nimbuses[0]["nimbusUpTimeSeconds"] == "3725"


def test_topology_summary_sorted_by_name_with_totals() -> None:
    topologies = mapping.topology_summary_json(_cluster([]))["topologies"]
    assert [t["name"] for t in topologies] == ["audit", "lendstream"]
    lendstream = topologies[1]
    assert lendstream["id"] == "lendstream-1-100"
    assert lendstream["uptime"] == "1d 1h 1m 1s"
    assert (lendstream["executorsTotal"], lendstream["tasksTotal"]) == (5, 7)
    assert lendstream["requestedTotalMem"] == 320.0


def _topology_info() -> storm.TopologyInfo:
    executors = [
        spout_executor(
            "applicants",
            (1, 1),
            emitted={"default": 100, "__ack_init": 100},
            acked={"default": 90},
            failed={"default": 10},
            complete_ms={"default": 10.0},
        ),
        spout_executor(
            "applicants",
            (2, 3),
            emitted={"default": 50, "__ack_init": 50},
            acked={"default": 30},
            failed={"default": 0},
            complete_ms={"default": 30.0},
        ),
        bolt_executor(
            "score",
            (4, 5),
            "applicants",
            emitted={"default": 80},
            executed=120_000,
            execute_ms=2.5,
            acked=110_000,
            process_ms=3.0,
            failed=10,
        ),
        bolt_executor(
            "score",
            (6, 6),
            "applicants",
            emitted={"default": 40},
            executed=40_000,
            execute_ms=0.5,
            acked=40_000,
            process_ms=1.0,
            uptime_secs=100,
            host="worker-2",
            port=6701,
        ),
        idle_executor("save", 7),
        bolt_executor(
            "__acker",
            (8, 8),
            "applicants",
            emitted={},
            executed=5,
            execute_ms=0.1,
            acked=5,
            process_ms=0.1,
        ),
    ]
    return storm.TopologyInfo(
        id="lendstream-1-100",
        name="lendstream",
        uptime_secs=1200,
        executors=executors,
        status="ACTIVE",
        errors={
            "score": [
                storm.ErrorInfo(error="old trouble", error_time_secs=1000),
                storm.ErrorInfo(error="boom", error_time_secs=2000, host="worker-1", port=6700),
            ]
        },
        replication_count=1,
    )


def _topology(**options: object) -> dict:
    topology = user_topology(spouts=["applicants"], bolts=["decide", "save", "score"])
    conf = '{"topology.message.timeout.secs": 45, "topology.workers": 2}'
    return mapping.topology_json(_topology_info(), topology, conf, NOW, **options)  # type: ignore[arg-type]


def test_topology_totals_count_every_executor_and_worker() -> None:
    document = _topology()
    assert (document["id"], document["name"], document["status"]) == (
        "lendstream-1-100",
        "lendstream",
        "ACTIVE",
    )
    assert document["uptime"] == "20m 0s"
    assert (document["executorsTotal"], document["tasksTotal"], document["workersTotal"]) == (
        6,
        8,
        2,
    )
    assert document["msgTimeout"] == 45
    assert (document["window"], document["windowHint"]) == (":all-time", "All time")


def test_spout_counters_leave_system_streams_out_and_weight_latency_by_acks() -> None:
    (spout,) = _topology()["spouts"]
    assert spout["spoutId"] == "applicants"
    assert (spout["executors"], spout["tasks"]) == (2, 3)
    assert (spout["emitted"], spout["transferred"]) == (150, 150)
    assert (spout["acked"], spout["failed"]) == (120, 10)
    assert spout["completeLatency"] == "15.000"  # (10 ms * 90 + 30 ms * 30) / 120
    assert spout["lastError"] == ""
    assert spout["errorPort"] is None


def test_bolt_counters_weight_latencies_and_take_the_busiest_executors_capacity() -> None:
    bolts = {bolt["boltId"]: bolt for bolt in _topology()["bolts"]}
    assert list(bolts) == ["decide", "save", "score"]  # __acker hidden without sys
    score = bolts["score"]
    assert (score["executors"], score["tasks"]) == (2, 3)
    assert (score["emitted"], score["executed"]) == (120, 160_000)
    assert (score["acked"], score["failed"]) == (150_000, 10)
    assert score["executeLatency"] == "2.000"  # (2.5 * 120000 + 0.5 * 40000) / 160000
    assert score["processLatency"] == "2.467"  # (3.0 * 110000 + 1.0 * 40000) / 150000
    assert score["capacity"] == "0.500"  # max(120000 * 2.5 / 600 s, 40000 * 0.5 / 100 s)


def test_bolt_last_error_is_the_newest_one() -> None:
    score = next(bolt for bolt in _topology()["bolts"] if bolt["boltId"] == "score")
    assert score["lastError"] == "boom"
    assert (score["errorHost"], score["errorPort"]) == ("worker-1", 6700)
    assert (score["errorTime"], score["errorLapsedSecs"]) == (2000, NOW - 2000)


def test_components_without_stats_are_listed_with_zero_counters() -> None:
    bolts = {bolt["boltId"]: bolt for bolt in _topology()["bolts"]}
    assert (bolts["save"]["executors"], bolts["save"]["tasks"], bolts["save"]["executed"]) == (
        1,
        1,
        0,
    )
    assert (bolts["decide"]["executors"], bolts["decide"]["executeLatency"]) == (0, "0.000")


def test_sys_adds_storms_own_components() -> None:
    bolts = {bolt["boltId"]: bolt for bolt in _topology(include_system=True)["bolts"]}
    assert bolts["__acker"]["executed"] == 5


def test_topology_stats_per_window() -> None:
    stats = {entry["window"]: entry for entry in _topology()["topologyStats"]}
    assert list(stats) == ["600", "10800", "86400", ":all-time"]
    all_time = stats[":all-time"]
    assert (all_time["emitted"], all_time["acked"], all_time["failed"]) == (270, 120, 10)
    assert all_time["completeLatency"] == "15.000"
    # The test spouts report only all-time counts; the bolts' counts fall in the 10-minute window.
    assert (stats["600"]["emitted"], stats["600"]["acked"]) == (120, 0)
    assert (stats["600"]["windowPretty"], stats["10800"]["emitted"]) == ("10m 0s", 0)


def test_window_selects_the_counts_of_that_window() -> None:
    document = _topology(window="600")
    (spout,) = document["spouts"]
    assert (document["windowHint"], spout["emitted"]) == ("10m 0s", 0)
    score = next(bolt for bolt in document["bolts"] if bolt["boltId"] == "score")
    assert score["executed"] == 160_000
