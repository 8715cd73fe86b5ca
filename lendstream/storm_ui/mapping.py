"""Nimbus's Thrift structs → the JSON documents of Storm UI's REST API (pure functions).

Field names follow Storm's "Storm UI REST API" documentation. Counters of a topology come from
``getTopologyInfo``: each executor reports, per time window (``"600"``, ``"10800"``,
``"86400"``, ``":all-time"``), its counts per stream; they are summed here per component the way
Storm's UI does it (system streams ``__*`` left out of emitted/transferred, latencies weighted by
their counts, capacity from the 10-minute window).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lendstream.storm.nimbus import NimbusAddress

ALL_TIME = ":all-time"
WINDOWS = ("600", "10800", "86400", ALL_TIME)
CAPACITY_WINDOW = "600"
SUPERVISOR_MEMORY_KEY = "memory.mb"
SUPERVISOR_CPU_KEY = "cpu.pcore.percent"
MESSAGE_TIMEOUT_KEY = "topology.message.timeout.secs"


def pretty_uptime(seconds: int | None) -> str:
    """Storm's ``1d 2h 3m 4s`` form, starting at the first non-zero unit (``0s`` for zero)."""
    remaining = max(int(seconds or 0), 0)
    days, remaining = divmod(remaining, 86400)
    hours, remaining = divmod(remaining, 3600)
    minutes, secs = divmod(remaining, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{value}{unit}" for value, unit in parts)


def window_hint(window: str) -> str:
    return "All time" if window == ALL_TIME else pretty_uptime(int(window))


def latency_text(value: float) -> str:
    """Storm returns latencies and capacity as strings with three decimals."""
    return f"{value:.3f}"


def is_system_id(identifier: str) -> bool:
    """Storm's own components and streams (``__acker``, ``__system``, ``__ack_ack`` …)."""
    return identifier.startswith("__")


# ---------------------------------------------------------------- cluster, nimbus, supervisors


def supervisor_json(supervisor: Any) -> dict[str, Any]:
    resources = supervisor.total_resources or {}
    total_mem = float(resources.get(SUPERVISOR_MEMORY_KEY, 0.0))
    total_cpu = float(resources.get(SUPERVISOR_CPU_KEY, 0.0))
    return {
        "id": supervisor.supervisor_id,
        "host": supervisor.host,
        "uptime": pretty_uptime(supervisor.uptime_secs),
        "uptimeSeconds": supervisor.uptime_secs,
        "slotsTotal": supervisor.num_workers,
        "slotsUsed": supervisor.num_used_workers,
        "slotsFree": max(supervisor.num_workers - supervisor.num_used_workers, 0),
        "totalMem": total_mem,
        "totalCpu": total_cpu,
        "usedMem": float(supervisor.used_mem or 0.0),
        "usedCpu": float(supervisor.used_cpu or 0.0),
        "version": supervisor.version,
    }


def supervisor_summary_json(cluster: Any) -> dict[str, Any]:
    return {
        "supervisors": [supervisor_json(s) for s in sorted(cluster.supervisors, key=_by_host)],
        "schedulerDisplayResource": False,
    }


def storm_version(cluster: Any) -> str:
    """The leader's version; another nimbus's while none leads; ``"unknown"`` if none reports."""
    nimbuses = sorted(cluster.nimbuses, key=lambda n: not n.isLeader)
    return nimbuses[0].version if nimbuses else "unknown"


def cluster_summary_json(cluster: Any) -> dict[str, Any]:
    supervisors = [supervisor_json(s) for s in cluster.supervisors]
    slots_total = sum(s["slotsTotal"] for s in supervisors)
    slots_used = sum(s["slotsUsed"] for s in supervisors)
    total_mem = sum(s["totalMem"] for s in supervisors)
    total_cpu = sum(s["totalCpu"] for s in supervisors)
    used_mem = sum(s["usedMem"] for s in supervisors)
    used_cpu = sum(s["usedCpu"] for s in supervisors)
    return {
        "stormVersion": storm_version(cluster),
        "supervisors": len(supervisors),
        "topologies": len(cluster.topologies),
        "slotsTotal": slots_total,
        "slotsUsed": slots_used,
        "slotsFree": slots_total - slots_used,
        "executorsTotal": sum(t.num_executors for t in cluster.topologies),
        "tasksTotal": sum(t.num_tasks for t in cluster.topologies),
        "schedulerDisplayResource": False,
        "totalMem": total_mem,
        "totalCpu": total_cpu,
        "availMem": total_mem - used_mem,
        "availCpu": total_cpu - used_cpu,
        "memAssignedPercentUtil": _percent(used_mem, total_mem),
        "cpuAssignedPercentUtil": _percent(used_cpu, total_cpu),
    }


def nimbus_summary_json(cluster: Any, seeds: Iterable[NimbusAddress]) -> dict[str, Any]:
    """Every nimbus that reports itself, then each configured seed that does not, as Offline."""
    nimbuses = []
    reported = set()
    for nimbus in sorted(cluster.nimbuses, key=lambda n: (not n.isLeader, n.host, n.port)):
        reported.add((nimbus.host, nimbus.port))
        nimbuses.append(
            {
                "host": nimbus.host,
                "port": nimbus.port,
                "status": "Leader" if nimbus.isLeader else "Not a Leader",
                "version": nimbus.version,
                "nimbusUpTime": pretty_uptime(nimbus.uptime_secs),
                "nimbusUpTimeSeconds": str(nimbus.uptime_secs),
            }
        )
    for seed in seeds:
        if (seed.host, seed.port) not in reported:
            nimbuses.append(
                {
                    "host": seed.host,
                    "port": seed.port,
                    "status": "Offline",
                    "version": "Not applicable",
                    "nimbusUpTime": "Not applicable",
                    "nimbusUpTimeSeconds": "Not applicable",
                }
            )
    return {"nimbuses": nimbuses}


def topology_summary_entry(topology: Any) -> dict[str, Any]:
    on_heap_requested = float(topology.requested_memonheap or 0.0)
    off_heap_requested = float(topology.requested_memoffheap or 0.0)
    on_heap_assigned = float(topology.assigned_memonheap or 0.0)
    off_heap_assigned = float(topology.assigned_memoffheap or 0.0)
    return {
        "id": topology.id,
        "name": topology.name,
        "status": topology.status,
        "uptime": pretty_uptime(topology.uptime_secs),
        "uptimeSeconds": topology.uptime_secs,
        "tasksTotal": topology.num_tasks,
        "workersTotal": topology.num_workers,
        "executorsTotal": topology.num_executors,
        "replicationCount": topology.replication_count,
        "schedulerInfo": topology.sched_status,
        "owner": topology.owner,
        "requestedMemOnHeap": on_heap_requested,
        "requestedMemOffHeap": off_heap_requested,
        "requestedTotalMem": on_heap_requested + off_heap_requested,
        "requestedCpu": float(topology.requested_cpu or 0.0),
        "assignedMemOnHeap": on_heap_assigned,
        "assignedMemOffHeap": off_heap_assigned,
        "assignedTotalMem": on_heap_assigned + off_heap_assigned,
        "assignedCpu": float(topology.assigned_cpu or 0.0),
    }


def topology_summary_json(cluster: Any) -> dict[str, Any]:
    topologies = sorted(cluster.topologies, key=lambda t: t.name)
    return {
        "topologies": [topology_summary_entry(t) for t in topologies],
        "schedulerDisplayResource": False,
    }


# ---------------------------------------------------------------- one topology's components


@dataclass
class _WeightedMean:
    """A mean of per-executor averages, weighted by how many tuples each one averaged over."""

    weighted_sum: float = 0.0
    weight: float = 0.0

    def add(self, average: float | None, count: int | None) -> None:
        if average is not None and count:
            self.weighted_sum += float(average) * count
            self.weight += count

    @property
    def value(self) -> float:
        return self.weighted_sum / self.weight if self.weight else 0.0


@dataclass
class ComponentCounters:
    """One component's counters over one window, summed over its executors."""

    component_id: str
    kind: str  # "spout" or "bolt"
    executors: int = 0
    tasks: int = 0
    emitted: int = 0
    transferred: int = 0
    acked: int = 0
    failed: int = 0
    executed: int = 0
    complete_latency: _WeightedMean = field(default_factory=_WeightedMean)
    execute_latency: _WeightedMean = field(default_factory=_WeightedMean)
    process_latency: _WeightedMean = field(default_factory=_WeightedMean)
    capacity: float = 0.0


def _stream_sum(per_window: Mapping[str, Mapping[Any, int]] | None, window: str) -> int:
    return sum((per_window or {}).get(window, {}).values())


def _visible_stream_sum(
    per_window: Mapping[str, Mapping[str, int]] | None, window: str, include_system: bool
) -> int:
    streams = (per_window or {}).get(window, {})
    return sum(
        count for stream, count in streams.items() if include_system or not is_system_id(stream)
    )


def _add_executor(
    counters: ComponentCounters, executor: Any, window: str, include_system: bool
) -> None:
    counters.executors += 1
    info = executor.executor_info
    counters.tasks += info.task_end - info.task_start + 1
    stats = executor.stats
    if stats is None or stats.specific is None:
        return
    counters.emitted += _visible_stream_sum(stats.emitted, window, include_system)
    counters.transferred += _visible_stream_sum(stats.transferred, window, include_system)
    if stats.specific.spout is not None:
        spout = stats.specific.spout
        acked_per_stream = (spout.acked or {}).get(window, {})
        counters.acked += sum(acked_per_stream.values())
        counters.failed += _stream_sum(spout.failed, window)
        for stream, average in (spout.complete_ms_avg or {}).get(window, {}).items():
            counters.complete_latency.add(average, acked_per_stream.get(stream, 0))
    elif stats.specific.bolt is not None:
        bolt = stats.specific.bolt
        acked_per_stream = (bolt.acked or {}).get(window, {})
        executed_per_stream = (bolt.executed or {}).get(window, {})
        counters.acked += sum(acked_per_stream.values())
        counters.failed += _stream_sum(bolt.failed, window)
        counters.executed += sum(executed_per_stream.values())
        for stream, average in (bolt.execute_ms_avg or {}).get(window, {}).items():
            counters.execute_latency.add(average, executed_per_stream.get(stream, 0))
        for stream, average in (bolt.process_ms_avg or {}).get(window, {}).items():
            counters.process_latency.add(average, acked_per_stream.get(stream, 0))
        counters.capacity = max(counters.capacity, executor_capacity(executor))


def executor_capacity(executor: Any) -> float:
    """Share of the last 10 minutes (or of its uptime, if shorter) spent in ``execute``."""
    bolt = executor.stats.specific.bolt
    executed = (bolt.executed or {}).get(CAPACITY_WINDOW, {})
    latencies = (bolt.execute_ms_avg or {}).get(CAPACITY_WINDOW, {})
    busy_ms = sum(float(latencies.get(stream) or 0.0) * count for stream, count in executed.items())
    seconds = min(int(executor.uptime_secs or 0), int(CAPACITY_WINDOW))
    return busy_ms / (seconds * 1000.0) if seconds > 0 else 0.0


def _executor_kind(executor: Any) -> str | None:
    specific = executor.stats.specific if executor.stats is not None else None
    if specific is None:
        return None
    return "spout" if specific.spout is not None else "bolt"


def component_counters(
    info: Any,
    spout_ids: Iterable[str],
    bolt_ids: Iterable[str],
    window: str = ALL_TIME,
    include_system: bool = False,
) -> dict[str, ComponentCounters]:
    """Counters for every user component (listed even before it reports), and for Storm's own
    components (``__acker`` …) too when ``include_system``."""
    components: dict[str, ComponentCounters] = {}
    for spout_id in spout_ids:
        components[spout_id] = ComponentCounters(spout_id, "spout")
    for bolt_id in bolt_ids:
        components[bolt_id] = ComponentCounters(bolt_id, "bolt")
    for executor in sorted(info.executors, key=lambda e: e.executor_info.task_start):
        component_id = executor.component_id
        if component_id not in components:
            kind = _executor_kind(executor)
            if not include_system or not is_system_id(component_id) or kind is None:
                continue
            components[component_id] = ComponentCounters(component_id, kind)
        _add_executor(components[component_id], executor, window, include_system)
    return components


def _last_error(errors: Mapping[str, list[Any]] | None, component_id: str, now: int) -> dict:
    reported = (errors or {}).get(component_id) or []
    if not reported:
        return {
            "lastError": "",
            "errorHost": "",
            "errorPort": None,
            "errorTime": None,
            "errorLapsedSecs": None,
        }
    latest = max(reported, key=lambda error: error.error_time_secs)
    return {
        "lastError": latest.error,
        "errorHost": latest.host or "",
        "errorPort": latest.port,
        "errorTime": latest.error_time_secs,
        "errorLapsedSecs": max(now - latest.error_time_secs, 0),
    }


def _counts_json(counters: ComponentCounters) -> dict[str, int]:
    """What spouts and bolts both show: executors, tasks and the tuple counts."""
    return {
        "executors": counters.executors,
        "tasks": counters.tasks,
        "emitted": counters.emitted,
        "transferred": counters.transferred,
        "acked": counters.acked,
        "failed": counters.failed,
    }


def spout_json(counters: ComponentCounters, errors: Mapping[str, list[Any]], now: int) -> dict:
    return {
        "spoutId": counters.component_id,
        **_counts_json(counters),
        "completeLatency": latency_text(counters.complete_latency.value),
        **_last_error(errors, counters.component_id, now),
    }


def bolt_json(counters: ComponentCounters, errors: Mapping[str, list[Any]], now: int) -> dict:
    return {
        "boltId": counters.component_id,
        **_counts_json(counters),
        "executed": counters.executed,
        "executeLatency": latency_text(counters.execute_latency.value),
        "processLatency": latency_text(counters.process_latency.value),
        "capacity": latency_text(counters.capacity),
        **_last_error(errors, counters.component_id, now),
    }


def topology_stats_json(
    info: Any, spout_ids: Iterable[str], bolt_ids: Iterable[str], include_system: bool
) -> list[dict[str, Any]]:
    """Per window: emitted/transferred of every component, acked/failed/latency of the spouts."""
    spout_ids, bolt_ids = list(spout_ids), list(bolt_ids)
    stats = []
    for window in WINDOWS:
        components = component_counters(info, spout_ids, bolt_ids, window, include_system)
        spouts = [c for c in components.values() if c.kind == "spout"]
        latency = _WeightedMean()
        for spout in spouts:
            latency.add(spout.complete_latency.value, spout.acked)
        stats.append(
            {
                "windowPretty": window_hint(window),
                "window": window,
                "emitted": sum(c.emitted for c in components.values()),
                "transferred": sum(c.transferred for c in components.values()),
                "completeLatency": latency_text(latency.value),
                "acked": sum(s.acked for s in spouts),
                "failed": sum(s.failed for s in spouts),
            }
        )
    return stats


def message_timeout(topology_conf_json: str | None) -> int | None:
    if not topology_conf_json:
        return None
    value = json.loads(topology_conf_json).get(MESSAGE_TIMEOUT_KEY)
    return int(value) if value is not None else None


def topology_json(
    info: Any,
    user_topology: Any,
    topology_conf_json: str | None,
    now: int,
    *,
    window: str = ALL_TIME,
    include_system: bool = False,
) -> dict[str, Any]:
    """``/api/v1/topology/<id>``: the topology, its spouts and bolts, its per-window totals."""
    spout_ids = sorted(user_topology.spouts or {}) if user_topology is not None else []
    bolt_ids = sorted(user_topology.bolts or {}) if user_topology is not None else []
    components = component_counters(info, spout_ids, bolt_ids, window, include_system)
    errors = info.errors or {}
    workers = {(e.host, e.port) for e in info.executors}
    return {
        "id": info.id,
        "name": info.name,
        "status": info.status,
        "uptime": pretty_uptime(info.uptime_secs),
        "uptimeSeconds": info.uptime_secs,
        "tasksTotal": sum(
            e.executor_info.task_end - e.executor_info.task_start + 1 for e in info.executors
        ),
        "workersTotal": len(workers),
        "executorsTotal": len(info.executors),
        "msgTimeout": message_timeout(topology_conf_json),
        "window": window,
        "windowHint": window_hint(window),
        "schedulerDisplayResource": False,
        "schedulerInfo": info.sched_status,
        "owner": info.owner,
        "replicationCount": info.replication_count,
        "topologyStats": topology_stats_json(info, spout_ids, bolt_ids, include_system),
        "spouts": [spout_json(c, errors, now) for c in components.values() if c.kind == "spout"],
        "bolts": [bolt_json(c, errors, now) for c in components.values() if c.kind == "bolt"],
    }


def _by_host(supervisor: Any) -> tuple[str, str]:
    return (supervisor.host, supervisor.supervisor_id)


def _percent(used: float, total: float) -> float:
    return round(100.0 * used / total, 1) if total else 0.0
