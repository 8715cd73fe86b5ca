"""Building nimbus's Thrift structs (streamparse's ``storm.thrift``) for the mapping tests."""

from __future__ import annotations

from typing import Any

from streamparse import thrift as storm

WINDOWS = ("600", "10800", "86400", ":all-time")


def per_window(values: dict[Any, Any], window: str = ":all-time") -> dict[str, dict[Any, Any]]:
    """``values`` in ``window`` and the all-time window, nothing in the others."""
    return {name: (dict(values) if name in (window, ":all-time") else {}) for name in WINDOWS}


def spout_executor(
    component: str,
    tasks: tuple[int, int],
    *,
    emitted: dict[str, int],
    acked: dict[str, int],
    failed: dict[str, int],
    complete_ms: dict[str, float],
    host: str = "worker-1",
    port: int = 6700,
    uptime_secs: int = 1200,
) -> Any:
    return storm.ExecutorSummary(
        executor_info=storm.ExecutorInfo(task_start=tasks[0], task_end=tasks[1]),
        component_id=component,
        host=host,
        port=port,
        uptime_secs=uptime_secs,
        stats=storm.ExecutorStats(
            emitted=per_window(emitted),
            transferred=per_window(emitted),
            specific=storm.ExecutorSpecificStats(
                spout=storm.SpoutStats(
                    acked=per_window(acked),
                    failed=per_window(failed),
                    complete_ms_avg=per_window(complete_ms),
                )
            ),
            rate=20.0,
        ),
    )


def bolt_executor(
    component: str,
    tasks: tuple[int, int],
    source: str,
    *,
    emitted: dict[str, int],
    executed: int,
    execute_ms: float,
    acked: int,
    process_ms: float,
    failed: int = 0,
    window: str = "600",
    host: str = "worker-1",
    port: int = 6700,
    uptime_secs: int = 1200,
) -> Any:
    """A bolt executor that read ``source``'s default stream; its counts fall in ``window``."""
    stream = storm.GlobalStreamId(componentId=source, streamId="default")
    return storm.ExecutorSummary(
        executor_info=storm.ExecutorInfo(task_start=tasks[0], task_end=tasks[1]),
        component_id=component,
        host=host,
        port=port,
        uptime_secs=uptime_secs,
        stats=storm.ExecutorStats(
            emitted=per_window(emitted, window),
            transferred=per_window(emitted, window),
            specific=storm.ExecutorSpecificStats(
                bolt=storm.BoltStats(
                    acked=per_window({stream: acked}, window),
                    failed=per_window({stream: failed}, window),
                    process_ms_avg=per_window({stream: process_ms}, window),
                    executed=per_window({stream: executed}, window),
                    execute_ms_avg=per_window({stream: execute_ms}, window),
                )
            ),
            rate=20.0,
        ),
    )


def idle_executor(component: str, task: int, host: str = "worker-1", port: int = 6700) -> Any:
    """An executor that has not reported stats yet."""
    return storm.ExecutorSummary(
        executor_info=storm.ExecutorInfo(task_start=task, task_end=task),
        component_id=component,
        host=host,
        port=port,
        uptime_secs=3,
        stats=None,
    )


def user_topology(spouts: list[str], bolts: list[str]) -> Any:
    common = storm.ComponentCommon(inputs={}, streams={})
    shell = storm.ComponentObject(shell=storm.ShellComponent(execution_command="python"))
    return storm.StormTopology(
        spouts={name: storm.SpoutSpec(spout_object=shell, common=common) for name in spouts},
        bolts={name: storm.Bolt(bolt_object=shell, common=common) for name in bolts},
        state_spouts={},
    )


def supervisor(host: str, slots: int, used: int, supervisor_id: str, uptime_secs: int = 65) -> Any:
    return storm.SupervisorSummary(
        host=host,
        uptime_secs=uptime_secs,
        num_workers=slots,
        num_used_workers=used,
        supervisor_id=supervisor_id,
        version="2.8.3",
        total_resources={"memory.mb": 4096.0, "cpu.pcore.percent": 200.0},
        used_mem=None,
        used_cpu=None,
    )


def nimbus(host: str, port: int, leader: bool, version: str = "2.8.3") -> Any:
    return storm.NimbusSummary(
        host=host, port=port, uptime_secs=3725, isLeader=leader, version=version
    )


def topology_summary(topology_id: str, name: str, executors: int, tasks: int) -> Any:
    return storm.TopologySummary(
        id=topology_id,
        name=name,
        num_tasks=tasks,
        num_executors=executors,
        num_workers=1,
        uptime_secs=90061,
        status="ACTIVE",
        replication_count=1,
        requested_memonheap=256.0,
        requested_memoffheap=64.0,
    )
