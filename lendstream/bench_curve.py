"""The benchmark's latency-against-load curve: CSV files and a PNG plot, with the run's parameters.

``write_curve`` writes, under the output directory (``.cache/bench/`` by default), files named
``<UTC time>-<run id>`` (``<UTC time>-<run id>-cluster`` for the cluster bench):
``-latency.csv`` (one row per offered load: p50/p99/max end to end, p50 by third of the run,
load average), ``-stages.csv`` (per offered load and stage: p50/p99 and the applicants
measured), ``-params.json`` (the run's parameters and throughputs) and ``-latency.png`` (p50/p99
against applicants/s). ``latest-*`` (``latest-cluster-*``) copies point at the newest run.
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
from typing import Any, ClassVar, Protocol

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

    @classmethod
    def measured(
        cls,
        *,
        fraction: float,
        offered_per_s: float,
        produced_per_s: float,
        latencies_ms: Sequence[float],
        stages: dict[str, tuple[float, float, int]],
        load_average: tuple[float, float, float],
    ) -> LatencyPoint:
        """The point from each stored row's end-to-end latency, in the order the rows were
        published (the p50 of each third shows a backlog growing)."""
        count = len(latencies_ms)
        thirds = [latencies_ms[i * count // 3 : (i + 1) * count // 3] for i in range(3)]
        return cls(
            fraction=fraction,
            offered_per_s=offered_per_s,
            produced_per_s=produced_per_s,
            rows=count,
            p50_ms=percentile(latencies_ms, 0.5),
            p99_ms=percentile(latencies_ms, 0.99),
            max_ms=max(latencies_ms),
            thirds_p50_ms=tuple(percentile(part, 0.5) for part in thirds if part),
            stages=stages,
            load_average=load_average,
        )


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class CurveParameters(Protocol):
    """A run's parameters as the curve's files need them (a dataclass: params.json is its
    fields)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def run_id(self) -> str: ...

    @property
    def kind(self) -> str: ...  # "" (the single-machine bench) or "cluster"

    @property
    def fraction_of(self) -> str: ...  # what the loads are fractions of ("A")

    def title(self) -> str: ...


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

    kind = ""
    fraction_of = "A"

    def title(self) -> str:
        return (
            f"topology latency against load — run {self.run_id}\n"
            f"A {self.throughput_a:.0f}/s, B {self.throughput_b:.0f}/s, "
            f"R {self.ratio:.2f}; batches ≤ {self.batch_records}, "
            f"linger {self.linger_ms} ms, eager < {self.eager_below_in_flight} "
            f"in flight; load avg {self.load_average:.1f}"
        )


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
    points: Sequence[LatencyPoint], parameters: CurveParameters, out_dir: Path
) -> list[Path]:
    """Write the curve's files; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = f"-{parameters.kind}" if parameters.kind else ""
    stem = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{parameters.run_id}{suffix}"
    fraction_header = "fraction_of_" + parameters.fraction_of.lower().replace(" ", "_")
    latency_csv = out_dir / f"{stem}-latency.csv"
    with latency_csv.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                fraction_header,
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
            [
                fraction_header,
                "offered_per_s",
                "stage",
                "p50_ms",
                "p99_ms",
                "applicants",
            ]
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
        shutil.copyfile(path, out_dir / path.name.replace(stem, f"latest{suffix}"))
    return written


def _plot(points: Sequence[LatencyPoint], parameters: CurveParameters, path: Path) -> None:
    rates = [point.produced_per_s for point in points]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.plot(rates, [point.p50_ms for point in points], "o-", label="p50")
    axes.plot(rates, [point.p99_ms for point in points], "s-", label="p99")
    for point in points:
        axes.annotate(
            f"{point.fraction:.0%} of {parameters.fraction_of}",
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
    axes.set_title(parameters.title(), fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
