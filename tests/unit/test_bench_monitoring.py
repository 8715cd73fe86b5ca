from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import pytest

from lendstream import bench_monitoring
from lendstream.bench_monitoring import OverheadRound


@dataclass
class Layout:
    groups: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "monitoring": ("m2",),
            "producer": ("m3",),
            "zookeeper": ("m1", "m2", "m3"),
        }
    )

    def hosts(self, group: str) -> tuple[str, ...]:
        return self.groups.get(group, ())


def test_each_node_stops_its_own_monitoring_units() -> None:
    units = bench_monitoring.monitoring_units(Layout())  # type: ignore[arg-type]
    assert units == {
        "m1": ("prometheus-node-exporter",),
        "m2": (
            "prometheus-node-exporter",
            "prometheus",
            "prometheus-alertmanager",
            "lendstream-alert-log",
        ),
        "m3": ("prometheus-node-exporter", "lendstream-pipeline-exporter"),
    }


def test_the_overhead_is_the_lost_share_of_the_median_without_monitoring() -> None:
    rounds = [
        OverheadRound(monitoring=True, stored_per_s=190),
        OverheadRound(monitoring=False, stored_per_s=200),
        OverheadRound(monitoring=False, stored_per_s=210),
        OverheadRound(monitoring=True, stored_per_s=200),
    ]
    summary = bench_monitoring.overhead_summary(rounds)
    assert summary["with_monitoring_per_s"] == 195
    assert summary["without_monitoring_per_s"] == 205
    assert summary["overhead_percent"] == pytest.approx(100 * 10 / 205)


def test_a_cycle_cancels_a_linear_drift_of_the_machine() -> None:
    # Throughput rising 100/s per round with no cost of monitoring: each cycle says 0 %,
    # while the plain medians would make monitoring look cheaper or dearer by the drift.
    rounds = [
        OverheadRound(monitoring=wanted, stored_per_s=500 + 100 * index)
        for index, wanted in enumerate(bench_monitoring.ON_OFF_CYCLE * 2)
    ]
    summary = bench_monitoring.overhead_summary(rounds)
    assert summary["cycle_overhead_percent"] == [pytest.approx(0.0), pytest.approx(0.0)]
    assert summary["median_cycle_overhead_percent"] == pytest.approx(0.0)


def test_a_cycle_finds_a_real_cost_under_the_drift() -> None:
    rounds = [
        OverheadRound(monitoring=wanted, stored_per_s=(500 + 100 * index) * (0.9 if wanted else 1))
        for index, wanted in enumerate(bench_monitoring.ON_OFF_CYCLE)
    ]
    (cost,) = bench_monitoring.overhead_summary(rounds)["cycle_overhead_percent"]
    assert cost == pytest.approx(10.0)


def test_a_cycle_measures_both_sides_alike_in_time() -> None:
    # Equal counts, and equal sums of indices and of squared indices: a quadratic drift weighs
    # on both sides alike.
    cycle = bench_monitoring.ON_OFF_CYCLE
    for power in (0, 1, 2):
        on = sum(index**power for index, wanted in enumerate(cycle) if wanted)
        off = sum(index**power for index, wanted in enumerate(cycle) if not wanted)
        assert on == off


def test_a_cycle_cancels_a_warm_up_curve_and_the_fit_finds_no_cost() -> None:
    # A cluster warming up: fast gains at first, then slower (a quadratic); no cost of
    # monitoring. The old on/off/off/on cycle read this as monitoring costing several percent.
    rounds = [
        OverheadRound(monitoring=wanted, stored_per_s=500 + 80 * index - 2.5 * index**2)
        for index, wanted in enumerate(bench_monitoring.ON_OFF_CYCLE * 2)
    ]
    summary = bench_monitoring.overhead_summary(rounds)
    assert summary["cycle_overhead_percent"] == [pytest.approx(0.0), pytest.approx(0.0)]
    assert summary["fitted_overhead_percent"] == pytest.approx(0.0, abs=1e-9)
    assert summary["fitted_overhead_percent_error"] == pytest.approx(0.0, abs=1e-9)
    # The old order (on, off, off, on: rounds 0 and 3 against 1 and 2) saw a cost in the curve.
    on = statistics.mean(500 + 80 * i - 2.5 * i**2 for i in (0, 3))
    off = statistics.mean(500 + 80 * i - 2.5 * i**2 for i in (1, 2))
    assert bench_monitoring.lost_percent(on, off) > 0.5


def test_the_fit_finds_a_cost_under_noise_and_drift_with_its_error() -> None:
    # 5 % fewer applicants/s with monitoring, a quadratic warm-up and a fixed pseudo-noise.
    noise = [3.0, -4.0, 1.0, 5.0, -2.0, -3.0, 4.0, -1.0, 2.0, -5.0, 0.0, 3.0, -2.0, 1.0, -3.0, 2.0]
    rounds = [
        OverheadRound(
            monitoring=wanted,
            stored_per_s=(600 + 40 * index - index**2) * (0.95 if wanted else 1.0) + noise[index],
        )
        for index, wanted in enumerate(bench_monitoring.ON_OFF_CYCLE * 2)
    ]
    summary = bench_monitoring.overhead_summary(rounds)
    error = summary["fitted_overhead_percent_error"]
    assert 0 < error < 1.5
    # The effect is fitted as an amount of applicants/s, reported in percent of the median
    # without monitoring; the drift moves that median, so allow it some room.
    assert 3.5 < summary["fitted_overhead_percent"] < 6.5


def test_too_few_rounds_give_no_fit() -> None:
    rounds = [
        OverheadRound(monitoring=wanted, stored_per_s=900)
        for wanted in bench_monitoring.ON_OFF_CYCLE[:4]
    ]
    assert "fitted_overhead_percent" not in bench_monitoring.overhead_summary(rounds)


def test_a_units_memory_sums_its_processes_and_leaves_other_units_out() -> None:
    ps_output = (
        "prometheus.service              95000\n"
        "lendstream-alert-log.service    18000\n"
        "lendstream-alert-log.service     2000\n"
        "lendstream-kafka.service       900000\n"
        "-                                 120\n"
    )
    kib = bench_monitoring.unit_resident_kib(ps_output, ("prometheus", "lendstream-alert-log"))
    assert kib == {"prometheus": 95000, "lendstream-alert-log": 20000}


def test_service_cpu_is_read_from_each_cgroup_in_seconds() -> None:
    output = (
        "lendstream-kafka.service 12500000\n"
        "prometheus.service 250000\n"
        "ssh.service \n"  # a cgroup without usage_usec: skipped
    )
    assert bench_monitoring.parse_service_cpu(output) == {
        "lendstream-kafka": 12.5,
        "prometheus": 0.25,
    }


def test_cpu_by_unit_sums_each_service_over_the_nodes() -> None:
    before = {
        "m1": {"lendstream-kafka": 10.0, "prometheus-node-exporter": 1.0},
        "m2": {"lendstream-kafka": 20.0, "prometheus": 5.0, "lendstream-storm-ui": 3.0},
    }
    after = {
        "m1": {"lendstream-kafka": 14.0, "prometheus-node-exporter": 1.5},
        # the UI stopped (gone: nothing); a unit started in between counts all it has
        "m2": {"lendstream-kafka": 26.0, "prometheus": 6.0, "lendstream-producer": 2.0},
    }
    spent = bench_monitoring.cpu_by_unit(before, after)
    assert spent == pytest.approx(
        {
            "lendstream-kafka": 4.0 + 6.0,
            "prometheus-node-exporter": 0.5,
            "prometheus": 1.0,
            "lendstream-producer": 2.0,
        }
    )
    measured = OverheadRound(monitoring=True, stored_per_s=900, applicants=1000, cpu_by_unit=spent)
    assert measured.service_cpu_s == pytest.approx(13.5)
    assert measured.monitoring_cpu_s == pytest.approx(0.5 + 1.0)
    assert measured.cpu_ms_per_applicant == pytest.approx(13.5)
    assert measured.unit_ms_per_applicant("lendstream-kafka") == pytest.approx(10.0)


def test_the_cpu_per_applicant_added_by_monitoring_is_measured_per_cycle() -> None:
    # Monitoring adds 5 % to every applicant's CPU while the machine drifts: each cycle says 5 %.
    rounds = [
        OverheadRound(
            monitoring=wanted,
            stored_per_s=900,
            applicants=5000,
            cpu_by_unit={
                "lendstream-kafka": (100 + 10 * index) * (1.05 if wanted else 1.0) - 3.0 * wanted,
                "prometheus": 3.0 * wanted,
            },
        )
        for index, wanted in enumerate(bench_monitoring.ON_OFF_CYCLE * 2)
    ]
    summary = bench_monitoring.overhead_summary(rounds)
    assert summary["cycle_cpu_added_percent"] == [pytest.approx(5.0), pytest.approx(5.0)]
    assert summary["median_cycle_cpu_added_percent"] == pytest.approx(5.0)
    on = [r for r in rounds if r.monitoring]
    assert summary["median_monitoring_services_cpu_percent"] == pytest.approx(
        statistics.median(100 * 3.0 / r.service_cpu_s for r in on)
    )
    assert summary["rounds"][0]["applicants"] == 5000
    # Where it goes: Prometheus's own 3 s per round, the rest in the Kafka service.
    added = summary["cpu_added_by_unit_ms_per_applicant"]
    assert list(added) == ["lendstream-kafka", "prometheus"]
    assert added["prometheus"] == pytest.approx(1000 * 3.0 / 5000)


def test_rounds_without_cpu_readings_give_no_cpu_figures() -> None:
    rounds = [OverheadRound(monitoring=wanted, stored_per_s=900) for wanted in (True, False)]
    assert "median_cycle_cpu_added_percent" not in bench_monitoring.overhead_summary(rounds)
