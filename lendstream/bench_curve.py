"""The benchmark's latency-against-load curve: CSV files and a PNG plot, with the run's parameters.

``write_curve`` writes, under the output directory (``.cache/bench/`` by default), files named
``<UTC time>-<run id>``: ``-latency.csv`` (one row per offered load: p50/p99/max end to end, p50
by third of the run, load average), ``-stages.csv`` (per offered load and stage: p50/p99 and the
applicants measured), ``-params.json`` (the run's parameters and throughputs) and
``-latency.png`` (p50/p99 against applicants/s). ``latest-*`` copies point at the newest run.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # after the backend is chosen


@dataclass(frozen=True)
class LatencyPoint:
    """End-to-end latency of the topology at one offered load, and where the time went."""

    fraction: float  # of A's throughput
    offered_per_s: float
    produced_per_s: float
    rows: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    thirds_p50_ms: tuple[float, ...]
    stages: dict[str, tuple[float, float, int]]  # stage → (p50 ms, p99 ms, applicants)
    load_average: tuple[float, float, float]


@dataclass(frozen=True)
class RunParameters:
    run_id: str
    applicants: int
    rounds: int
    batch_records: int
    linger_ms: int
    eager_below_in_flight: int
    latency_seconds: float
    throughput_a: float
    throughput_b: float
    ratio: float
    load_average: float


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_curve(
    points: Sequence[LatencyPoint], parameters: RunParameters, out_dir: Path
) -> list[Path]:
    """Write the curve's files; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{parameters.run_id}"
    latency_csv = out_dir / f"{stem}-latency.csv"
    with latency_csv.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "fraction_of_a",
                "offered_per_s",
                "produced_per_s",
                "rows",
                "p50_ms",
                "p99_ms",
                "max_ms",
                "p50_by_third_ms",
                "load_average_1m",
            ]
        )
        for point in points:
            writer.writerow(
                [
                    point.fraction,
                    round(point.offered_per_s),
                    round(point.produced_per_s),
                    point.rows,
                    round(point.p50_ms),
                    round(point.p99_ms),
                    round(point.max_ms),
                    " ".join(str(round(value)) for value in point.thirds_p50_ms),
                    round(point.load_average[0], 2),
                ]
            )
    stages_csv = out_dir / f"{stem}-stages.csv"
    with stages_csv.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["fraction_of_a", "offered_per_s", "stage", "p50_ms", "p99_ms", "applicants"]
        )
        for point in points:
            for stage, (p50, p99, weight) in point.stages.items():
                writer.writerow(
                    [point.fraction, round(point.offered_per_s), stage, p50, p99, weight]
                )
    params_json = out_dir / f"{stem}-params.json"
    params_json.write_text(json.dumps({**asdict(parameters), "commit": _commit()}, indent=2) + "\n")
    plot = out_dir / f"{stem}-latency.png"
    _plot(points, parameters, plot)
    written = [latency_csv, stages_csv, params_json, plot]
    for path in written:
        shutil.copyfile(path, out_dir / path.name.replace(stem, "latest"))
    return written


def _plot(points: Sequence[LatencyPoint], parameters: RunParameters, path: Path) -> None:
    rates = [point.produced_per_s for point in points]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.plot(rates, [point.p50_ms for point in points], "o-", label="p50")
    axes.plot(rates, [point.p99_ms for point in points], "s-", label="p99")
    for point in points:
        axes.annotate(
            f"{point.fraction:.0%} of A",
            (point.produced_per_s, point.p99_ms),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=8,
        )
    axes.set_xlabel("offered load (applicants/s)")
    axes.set_ylabel("end-to-end latency (ms), Kafka timestamp → HBase cell")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend()
    axes.set_title(
        f"topology latency against load — run {parameters.run_id}\n"
        f"A {parameters.throughput_a:.0f}/s, B {parameters.throughput_b:.0f}/s, "
        f"R {parameters.ratio:.2f}; batches ≤ {parameters.batch_records}, "
        f"linger {parameters.linger_ms} ms, eager < {parameters.eager_below_in_flight} "
        f"in flight; load avg {parameters.load_average:.1f}",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
