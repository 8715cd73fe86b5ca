"""What monitoring costs a deployed cluster (`lendstream bench --layout ci --monitoring-overhead`).

The topology's saturated throughput (B, the cluster bench's saturation round) is measured with the
monitoring processes running and stopped. One unmeasured warm-up round comes first. "Stopped" is
every process the monitoring roles add (Prometheus, Alertmanager and its log receiver on the
monitoring node, the node exporter on every node, the pipeline exporter beside the producer): with
Prometheus stopped nothing scrapes the JMX exporter agents either, which stay loaded inside the
daemons (a loaded agent that nobody asks costs no CPU; its memory is part of each daemon's and
not separated here). The monitoring is started again whatever happens, and the resident memory
of its processes is read on every node while they run.

The machine drifts during a run, and not in a straight line: a cluster just deployed or idle gets
faster round by round for a long while, quickly at first (seen on ci: 200/s, then 518/s rising
to 1,106/s over twelve rounds, the CPU per applicant falling from 4.6 to 2.8 ms). Two defences:
- **The order of the rounds** in each cycle of eight is the Thue-Morse sequence (on, off, off,
  on, off, on, on, off): the rounds with monitoring and those without have the same sum of
  indices and of squared indices, so the mean of one side against the other cancels a drift that
  is linear or quadratic over the cycle exactly. (The earlier on, off, off, on cancelled only a
  linear one; a warm-up's curve made monitoring look dearer than it was.) Each cycle gives its
  own estimate and the run reports their median.
- **A fit over the whole run**: least squares of each round's figure against a quadratic in the
  round's index plus the effect of monitoring, which gives the effect with its standard error,
  so a figure can be told from the noise.

Throughput alone is a noisy measure on a shared two-core machine (per-cycle figures from -6 % to
22 % over sessions), so each round also reads the CPU time of every systemd service on every node
(cgroup ``cpu.stat``) before and after it. Three figures come from that:
- the CPU the cluster spends per applicant, with and without monitoring: what monitoring adds to
  every applicant's cost, the JMX agents' answers to Prometheus's scrapes included, since they
  run inside the daemons' services;
- the same, by service: where what monitoring adds goes;
- the monitoring services' own share of all the services' CPU in the rounds with monitoring.
"""

from __future__ import annotations

import operator
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from lendstream.chaos.cluster import ChaosCluster

# The units the monitoring roles run, by the inventory group that carries them (node_exporter,
# alertmanager, prometheus and pipeline_exporter roles; Debian's packages name the first three).
MONITORING_UNITS: dict[str, tuple[str, ...]] = {
    "all": ("prometheus-node-exporter",),
    "monitoring": ("prometheus", "prometheus-alertmanager", "lendstream-alert-log"),
    "producer": ("lendstream-pipeline-exporter",),
}
MONITORING_UNIT_NAMES = frozenset(name for names in MONITORING_UNITS.values() for name in names)
# Thue-Morse: equal sums of indices and of squared indices on both sides (see above).
ON_OFF_CYCLE = (True, False, False, True, False, True, True, False)
# The services named in the printed breakdown of the CPU monitoring adds (the largest first).
BREAKDOWN_SHOWN = 8
# After a start or a stop, before the next round: Prometheus's first scrapes of every target.
SETTLE_S = 30


# Each service's CPU time on a node, from its cgroup: "<unit> <microseconds>" per line. The unified
# hierarchy is /sys/fs/cgroup on a pure cgroup v2 host, /sys/fs/cgroup/unified on a hybrid one
# (the simulated nodes).
SERVICE_CPU_COMMAND = (
    "for f in /sys/fs/cgroup/system.slice/*.service/cpu.stat"
    " /sys/fs/cgroup/unified/system.slice/*.service/cpu.stat; do"
    ' [ -r "$f" ] && echo "$(basename "$(dirname "$f")") $(sed -n "s/^usage_usec //p" "$f")";'
    " done; true"
)


@dataclass(frozen=True)
class OverheadRound:
    monitoring: bool
    stored_per_s: float
    # The applicants the round published, malformed ones included, and the CPU seconds each
    # service spent during the round, summed over the nodes (empty: not measured).
    applicants: int = 0
    cpu_by_unit: Mapping[str, float] = field(default_factory=dict)

    @property
    def service_cpu_s(self) -> float:
        return sum(self.cpu_by_unit.values())

    @property
    def monitoring_cpu_s(self) -> float:
        return sum(s for unit, s in self.cpu_by_unit.items() if unit in MONITORING_UNIT_NAMES)

    @property
    def cpu_ms_per_applicant(self) -> float:
        return 1000 * self.service_cpu_s / self.applicants if self.applicants else 0.0

    def unit_ms_per_applicant(self, unit: str) -> float:
        """One service's CPU per applicant in ms."""
        seconds = self.cpu_by_unit.get(unit, 0.0)
        return 1000 * seconds / self.applicants if self.applicants else 0.0


def monitoring_units(cluster: ChaosCluster) -> dict[str, tuple[str, ...]]:
    """Each node's monitoring units, from the layout's groups."""
    every_host = sorted({host for hosts in cluster.groups.values() for host in hosts})
    units: dict[str, list[str]] = {host: [] for host in every_host}
    for group, names in MONITORING_UNITS.items():
        for host in every_host if group == "all" else cluster.hosts(group):
            units[host].extend(names)
    return {host: tuple(names) for host, names in units.items() if names}


def set_monitoring(cluster: ChaosCluster, running: bool) -> None:
    verb = "start" if running else "stop"
    for host, units in monitoring_units(cluster).items():
        cluster.sh(host, f"systemctl {verb} {' '.join(units)}", timeout_s=180)


@contextmanager
def monitoring_restored(cluster: ChaosCluster) -> Iterator[None]:
    try:
        yield
    finally:
        set_monitoring(cluster, running=True)


def parse_service_cpu(output: str) -> dict[str, float]:
    """CPU seconds per service (``.service`` dropped) from ``SERVICE_CPU_COMMAND``'s output."""
    seconds: dict[str, float] = {}
    for line in output.splitlines():
        unit, _, usec = line.strip().rpartition(" ")
        if unit and usec.isdigit():
            seconds[unit.removesuffix(".service")] = int(usec) / 1e6
    return seconds


def service_cpu_seconds(cluster: ChaosCluster) -> dict[str, dict[str, float]]:
    """Each node's services' CPU seconds so far."""
    return {
        host: parse_service_cpu(cluster.sh(host, SERVICE_CPU_COMMAND))
        for host in cluster.node_names
    }


def cpu_by_unit(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
) -> dict[str, float]:
    """CPU seconds each service spent between two readings, summed over the nodes. A service
    that is gone in the second reading (stopped) counts nothing; one that started in between
    counts all it has."""
    spent: dict[str, float] = {}
    for host, units in after.items():
        for unit, seconds in units.items():
            used = max(0.0, seconds - before.get(host, {}).get(unit, 0.0))
            spent[unit] = spent.get(unit, 0.0) + used
    return spent


def unit_resident_kib(ps_output: str, units: Sequence[str]) -> dict[str, int]:
    """Resident KiB per unit from ``ps -e -o unit=,rss=``: every process systemd counts in the
    unit, helpers beside the main process included."""
    kib: dict[str, int] = {}
    for line in ps_output.splitlines():
        unit, _, rss = line.strip().rpartition(" ")
        name = unit.strip().removesuffix(".service")
        if name in units and rss.isdigit():
            kib[name] = kib.get(name, 0) + int(rss)
    return kib


def resident_mib(cluster: ChaosCluster) -> dict[str, dict[str, float]]:
    """Resident memory (MiB) of each running monitoring unit, per node."""
    memory: dict[str, dict[str, float]] = {}
    for host, units in monitoring_units(cluster).items():
        kib = unit_resident_kib(cluster.sh(host, "ps -e -o unit=,rss="), units)
        memory[host] = {unit: value / 1024 for unit, value in kib.items()}
    return memory


def lost_percent(with_monitoring: float, without: float) -> float:
    """What monitoring costs in percent of B without it (negative: faster with it)."""
    return 100 * (without - with_monitoring) / without if without else 0.0


def added_percent(with_monitoring: float, without: float) -> float:
    """What monitoring adds to a cost in percent of the cost without it."""
    return 100 * (with_monitoring - without) / without if without else 0.0


def cycle_overheads(
    rounds: Sequence[OverheadRound],
    figure: Callable[[OverheadRound], float] = lambda r: r.stored_per_s,
    cost: Callable[[float, float], float] = lost_percent,
) -> list[float]:
    """Each complete cycle's cost: the mean of its rounds with monitoring against the mean of its
    rounds without, which cancels a drift that is quadratic over the cycle. By default the
    throughput lost; ``figure``/``cost`` pick another figure (e.g. CPU per applicant, added)."""
    size = len(ON_OFF_CYCLE)
    costs = []
    for start in range(0, len(rounds) - size + 1, size):
        cycle = rounds[start : start + size]
        on = statistics.mean(figure(r) for r in cycle if r.monitoring)
        off = statistics.mean(figure(r) for r in cycle if not r.monitoring)
        costs.append(cost(on, off))
    return costs


@dataclass(frozen=True)
class FittedEffect:
    """Monitoring's effect on a figure (with minus without), fitted over a whole run, and its
    standard error."""

    effect: float
    standard_error: float


def fitted_effect(
    rounds: Sequence[OverheadRound], figure: Callable[[OverheadRound], float]
) -> FittedEffect | None:
    """The least-squares fit of ``figure`` per round = a quadratic in the round's index (the
    machine's drift) + the effect times (monitoring on); None with too few rounds for a residual."""
    measured = np.array([figure(r) for r in rounds], dtype=float)
    index = np.arange(len(rounds), dtype=float)
    design = np.column_stack(
        [np.ones_like(index), index, index**2, [float(r.monitoring) for r in rounds]]
    )
    free = len(rounds) - design.shape[1]
    if free < 1 or len({r.monitoring for r in rounds}) < 2:
        return None
    coefficients, *_ = np.linalg.lstsq(design, measured, rcond=None)
    residual = measured - design @ coefficients
    variance = float(residual @ residual) / free
    covariance = variance * np.linalg.pinv(design.T @ design)
    return FittedEffect(float(coefficients[-1]), float(np.sqrt(covariance[-1, -1])))


def cpu_added_by_unit(rounds: Sequence[OverheadRound]) -> dict[str, float]:
    """Where the CPU monitoring adds goes: per service, the median over cycles of its CPU per
    applicant with monitoring minus without (ms; the monitoring services' own included), the
    largest first. A service whose CPU rises with monitoring while it is not one of them pays
    for being watched (its JMX agent's answers) or for what the watching does to the machine."""
    added: dict[str, float] = {}
    for unit in sorted({unit for r in rounds for unit in r.cpu_by_unit}):
        per_cycle = cycle_overheads(
            rounds, partial(OverheadRound.unit_ms_per_applicant, unit=unit), operator.sub
        )
        if per_cycle:
            added[unit] = statistics.median(per_cycle)
    return dict(sorted(added.items(), key=lambda item: -item[1]))


def cpu_summary(rounds: Sequence[OverheadRound]) -> dict[str, Any]:
    """The CPU figures of rounds that measured it (empty when none did)."""
    if not rounds or not all(r.applicants and r.service_cpu_s for r in rounds):
        return {}
    on = [r for r in rounds if r.monitoring]
    per_cycle = cycle_overheads(rounds, lambda r: r.cpu_ms_per_applicant, added_percent)
    shares = [100 * r.monitoring_cpu_s / r.service_cpu_s for r in on]
    without = statistics.median(r.cpu_ms_per_applicant for r in rounds if not r.monitoring)
    fitted = fitted_effect(rounds, lambda r: r.cpu_ms_per_applicant)
    return {
        "cpu_added_by_unit_ms_per_applicant": cpu_added_by_unit(rounds),
        "cpu_ms_per_applicant_with": statistics.median(r.cpu_ms_per_applicant for r in on),
        "cpu_ms_per_applicant_without": without,
        **percent_of(fitted, without, "fitted_cpu_added_percent", added_percent),
        "cycle_cpu_added_percent": per_cycle,
        "median_cycle_cpu_added_percent": statistics.median(per_cycle) if per_cycle else None,
        "monitoring_services_cpu_percent": shares,
        "median_monitoring_services_cpu_percent": statistics.median(shares),
    }


def percent_of(
    fitted: FittedEffect | None,
    reference: float,
    name: str,
    cost: Callable[[float, float], float],
) -> dict[str, float]:
    """``{name: cost, name_error: its standard error}``: the fitted effect as ``cost`` (e.g.
    lost_percent) reads it against ``reference`` (the figure without monitoring), the error in
    percent of ``reference``; empty when nothing was fitted."""
    if fitted is None or not reference:
        return {}
    return {
        name: cost(reference + fitted.effect, reference),
        f"{name}_error": 100 * fitted.standard_error / reference,
    }


def overhead_summary(rounds: Sequence[OverheadRound]) -> dict[str, Any]:
    """Median B with and without monitoring, what monitoring costs in percent of B without, and
    the same cost per cycle (drift cancelled) with its median."""
    with_monitoring = [r.stored_per_s for r in rounds if r.monitoring]
    without = [r.stored_per_s for r in rounds if not r.monitoring]
    on, off = statistics.median(with_monitoring), statistics.median(without)
    per_cycle = cycle_overheads(rounds)
    fitted = fitted_effect(rounds, lambda r: r.stored_per_s)
    return {
        "with_monitoring_per_s": on,
        "without_monitoring_per_s": off,
        "overhead_percent": lost_percent(on, off),
        "cycle_overhead_percent": per_cycle,
        "median_cycle_overhead_percent": statistics.median(per_cycle) if per_cycle else None,
        **percent_of(fitted, off, "fitted_overhead_percent", lost_percent),
        **cpu_summary(rounds),
        "rounds": [
            {
                "monitoring": r.monitoring,
                "stored_per_s": r.stored_per_s,
                "service_cpu_s": r.service_cpu_s,
                "monitoring_cpu_s": r.monitoring_cpu_s,
                "applicants": r.applicants,
                "cpu_by_unit": dict(r.cpu_by_unit),
            }
            for r in rounds
        ],
    }
