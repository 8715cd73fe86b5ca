"""The cluster bench's pure parts: tagging, throughput, latencies, write spread, the stack's
figure, and its curve files next to (not over) the single-machine bench's."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from lendstream.bench_cluster import (
    ClusterRunParameters,
    latencies_in_order,
    stack_reference,
    throughput,
    write_spread,
)
from lendstream.bench_curve import LatencyPoint, write_curve
from lendstream.bench_producer import tag_member_ids


def test_tagging_keeps_a_missing_member_id_missing() -> None:
    records = [
        {"member_id": "SYN-7-0", "grade": "A"},
        {"member_id": "   ", "grade": "B"},
        {"grade": "C"},
        {"member_id": None},
        "not JSON",
    ]
    tagged = tag_member_ids(records, "BENCH-x-sat-")
    assert tagged[0] == {"member_id": "BENCH-x-sat-0", "grade": "A"}
    assert tagged[1:] == records[1:]
    assert records[0]["member_id"] == "SYN-7-0"  # the input is left as it was


def test_throughput_runs_from_the_first_timestamp_to_the_last_write() -> None:
    pairs = [(1_000, 1_400), (1_500, 2_100), (2_000, 3_000)]  # 3 rows over 2 s
    assert throughput(pairs) == 1.5
    assert throughput([]) == 0.0
    assert latencies_in_order([(2_000, 3_000), (1_000, 1_400)]) == [400.0, 1_000.0]


def test_write_spread_counts_each_servers_writes_over_the_run() -> None:
    before = [
        {"encoded": "r1", "server": "m1", "writes": 100},
        {"encoded": "r2", "server": "m2", "writes": 50},
        {"encoded": "r3", "server": "m3", "writes": None},
    ]
    after = [
        {"encoded": "r1", "server": "m1", "writes": 160},
        {"encoded": "r2", "server": "m3", "writes": 7},  # moved: counted from its opening
        {"encoded": "r3", "server": "m3", "writes": 30},
        {"encoded": "r4", "server": "m2", "writes": 12},  # a daughter of a split
    ]
    assert write_spread(before, after) == {"m1": 60, "m2": 12, "m3": 37}


def test_the_stack_figure_comes_from_the_newest_stack_run(tmp_path: Path) -> None:
    assert stack_reference(tmp_path) is None
    params = {"run_id": "1d7e6cc2", "throughput_b": 3497.4, "commit": "abc1234"}
    (tmp_path / "20261203T074722Z-1d7e6cc2-params.json").write_text(json.dumps(params))
    (tmp_path / "latest-params.json").write_text(json.dumps(params))
    reference = stack_reference(tmp_path)
    assert reference is not None
    assert (reference.run_id, reference.throughput_b) == ("1d7e6cc2", 3497.4)
    assert reference.date == "2026-12-03 07:47 UTC"


def test_the_cluster_curve_is_written_beside_the_stacks(tmp_path: Path) -> None:
    (tmp_path / "latest-latency.csv").write_text("the stack's\n")
    points = [
        LatencyPoint.measured(
            fraction=fraction,
            offered_per_s=rate,
            produced_per_s=rate,
            latencies_ms=[float(v) for v in range(100, 200)],
            stages={"end to end": (150.0, 199.0, 100)},
            load_average=(3.0, 2.0, 1.0),
        )
        for fraction, rate in ((1.0, 900.0), (0.5, 450.0))
    ]
    assert (points[0].p50_ms, points[0].p99_ms, points[0].max_ms) == (150.0, 198.0, 199.0)
    assert points[0].thirds_p50_ms == (116.0, 149.0, 182.0)
    parameters = ClusterRunParameters(
        "ab12cd34", "ci", 10_000, 0.01, 20.0, "m3", 900.0, 2500.0, 100, 100, "", 0.0, 0.0, 3.0
    )
    latency_csv, _, params_json, _ = write_curve(points, parameters, tmp_path)
    assert latency_csv.name.endswith("-ab12cd34-cluster-latency.csv")
    with latency_csv.open() as file:
        rows = list(csv.DictReader(file))
    assert [(r["fraction_of_b_saturated"], r["p50_ms"]) for r in rows] == [
        ("1.0", "150"),
        ("0.5", "150"),
    ]
    assert json.loads(params_json.read_text())["layout"] == "ci"
    assert (tmp_path / "latest-latency.csv").read_text() == "the stack's\n"
    assert (tmp_path / "latest-cluster-latency.csv").read_text() == latency_csv.read_text()
