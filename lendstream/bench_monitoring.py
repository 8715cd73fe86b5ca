"""What monitoring costs a deployed cluster (`lendstream bench --layout ci --monitoring-overhead`).

The topology's saturated throughput (B, the cluster bench's saturation round) is measured with the
monitoring processes running and stopped, in the order on, off, off, on for each cycle so that a
drift of the machine's load over the run weighs on both sides alike. "Stopped" is every process
the monitoring roles add (Prometheus, Alertmanager and its log receiver on the monitoring node,
the node exporter on every node, the pipeline exporter beside the producer): with Prometheus
stopped nothing scrapes the JMX exporter agents either, which stay loaded inside the daemons (a
loaded agent that nobody asks costs no CPU; its memory is part of each daemon's and not
separated here). The monitoring is started again whatever happens, and the resident memory of its
processes is read on every node while they run.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lendstream.chaos.cluster import ChaosCluster

# The units the monitoring roles run, by the inventory group that carries them (node_exporter,
# alertmanager, prometheus and pipeline_exporter roles; Debian's packages name the first three).
MONITORING_UNITS: dict[str, tuple[str, ...]] = {
    "all": ("prometheus-node-exporter",),
    "monitoring": ("prometheus", "prometheus-alertmanager", "lendstream-alert-log"),
    "producer": ("lendstream-pipeline-exporter",),
}
ON_OFF_CYCLE = (True, False, False, True)
# After a start or a stop, before the next round: Prometheus's first scrapes of every target.
SETTLE_S = 30


@dataclass(frozen=True)
class OverheadRound:
    monitoring: bool
    stored_per_s: float


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


def overhead_summary(rounds: Sequence[OverheadRound]) -> dict[str, Any]:
    """Median B with and without monitoring, and what monitoring costs in percent of B without."""
    with_monitoring = [r.stored_per_s for r in rounds if r.monitoring]
    without = [r.stored_per_s for r in rounds if not r.monitoring]
    on, off = statistics.median(with_monitoring), statistics.median(without)
    return {
        "with_monitoring_per_s": on,
        "without_monitoring_per_s": off,
        "overhead_percent": 100 * (off - on) / off if off else 0.0,
        "rounds": [{"monitoring": r.monitoring, "stored_per_s": r.stored_per_s} for r in rounds],
    }
