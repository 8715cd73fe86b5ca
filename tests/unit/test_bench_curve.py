"""The bench's latency-against-load files: CSVs with every point and stage, parameters, a PNG."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from lendstream.bench_curve import LatencyPoint, RunParameters, write_curve


def point(fraction: float, rate: float, p50: float, p99: float) -> LatencyPoint:
    return LatencyPoint(
        fraction=fraction,
        offered_per_s=rate,
        produced_per_s=rate * 0.99,
        rows=int(rate * 20),
        p50_ms=p50,
        p99_ms=p99,
        max_ms=p99 * 1.5,
        thirds_p50_ms=(p50, p50 + 1, p50 - 1),
        stages={"hop kafka → clean": (3.0, 9.0, 1000), "end to end": (p50, p99, 1000)},
        load_average=(2.5, 2.0, 1.5),
    )


def test_the_curve_is_written_with_its_parameters(tmp_path: Path) -> None:
    parameters = RunParameters("abc123", 20_000, 3, 500, 50, 2, 20.0, 3000.0, 3100.0, 1.03, 2.5)
    points = [point(0.25, 750.0, 40.0, 90.0), point(0.5, 1500.0, 60.0, 200.0)]
    latency_csv, stages_csv, params_json, plot = write_curve(points, parameters, tmp_path)
    with latency_csv.open() as file:
        rows = list(csv.DictReader(file))
    assert [(r["fraction_of_a"], r["p50_ms"], r["p99_ms"]) for r in rows] == [
        ("0.25", "40", "90"),
        ("0.5", "60", "200"),
    ]
    assert rows[1]["p50_by_third_ms"] == "60 61 59"
    with stages_csv.open() as file:
        stages = list(csv.DictReader(file))
    assert len(stages) == 4
    assert {s["stage"] for s in stages} == {"hop kafka → clean", "end to end"}
    params = json.loads(params_json.read_text())
    assert (params["run_id"], params["ratio"], params["batch_records"]) == ("abc123", 1.03, 500)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    latest = sorted(path.name for path in tmp_path.glob("latest-*"))
    assert latest == [
        "latest-latency.csv",
        "latest-latency.png",
        "latest-params.json",
        "latest-stages.csv",
    ]


def test_the_breakdown_follows_the_chain() -> None:
    from lendstream.bench import stage_order  # noqa: PLC0415 - imports the stack's clients

    stages = [
        "save (work)",
        "hop score → save",
        "spout: gathering (poll → emit)",
        "score: risk-service call",
        "hop kafka → clean",
        "clean (work)",
        "save: HBase write",
        "spout: record timestamp → poll",
    ]
    assert sorted(stages, key=stage_order) == [
        "spout: record timestamp → poll",
        "spout: gathering (poll → emit)",
        "hop kafka → clean",
        "clean (work)",
        "score: risk-service call",
        "hop score → save",
        "save: HBase write",
        "save (work)",
    ]
