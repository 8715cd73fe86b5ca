"""One fault after another under a steady load, each checked with the reconcile."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lendstream.chaos.alerts import AlertWatch, Prometheus
from lendstream.chaos.cluster import REPO_ROOT, ChaosCluster, ChaosError
from lendstream.chaos.faults import Fault
from lendstream.chaos.load import SteadyLoad
from lendstream.chaos.report import (
    AlertResult,
    FaultResult,
    alert_problems,
    lost_from,
    max_delay_seconds,
    recovery_seconds,
    table,
)

WARMUP_S = 10  # load before the injection, so the fault hits a pipeline in motion
TAIL_S = 45  # load after the healing, so the recovery is seen under load
PUBLISH_TIMEOUT_S = 300
# How long after the load's tail a fault's alerts may stay active (a scrape and a rule evaluation,
# 15 s each, bring it down once the target answers again; bounded generously).
ALERT_RESOLVE_TIMEOUT_S = 120


def first_seed() -> int:
    """Seeds of a run: new member ids even on a layout that took earlier runs (the loader skips
    ids it already has, which would leave a fault without load)."""
    return int(time.time())


DEFAULT_RATE_PER_S = 25.0


@dataclass
class Run:
    results: list[FaultResult] = field(default_factory=list)
    not_applicable: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    def table(self) -> str:
        lines = [table(self.results)]
        lines += [f"not run: {name}: {why}" for name, why in self.not_applicable.items()]
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "results": [result.as_dict() for result in self.results],
            "not_applicable": self.not_applicable,
        }
        path.write_text(json.dumps(document, indent=2) + "\n")


def results_path(layout_name: str) -> Path:
    return REPO_ROOT / ".cache" / "chaos" / layout_name / "results.json"


def wait_published(cluster: ChaosCluster, table_rows: int) -> int:
    """Wait (bounded) until the applicant topic holds every row of the table; returns its size."""
    deadline = time.monotonic() + PUBLISH_TIMEOUT_S
    size = cluster.topic_size()
    while size < table_rows and time.monotonic() < deadline:
        time.sleep(3)
        size = cluster.topic_size()
    return size


def alert_results(
    watches: Sequence[AlertWatch], healed: float, window_s: float = 0.0
) -> tuple[AlertResult, ...]:
    """Wait (one bound for all, longer by the rules' rate window) until each watched alert is
    gone, stop the watches, and say what each alert did."""
    deadline = time.monotonic() + ALERT_RESOLVE_TIMEOUT_S + window_s
    results = []
    for watch in watches:
        watch.wait_resolved(max(0.0, deadline - time.monotonic()))
        watch.stop()
        # None: still active after the bound, or never active at all (then pending is None too).
        resolved = None if watch.present else watch.resolved_at
        results.append(
            AlertResult(
                alert=watch.alert,
                pending_s=watch.seconds(watch.pending_at),
                fired_s=watch.seconds(watch.firing_at),
                resolved_s=None if resolved is None else max(0.0, round(resolved - healed, 1)),
            )
        )
    return tuple(results)


def rule_durations(cluster: ChaosCluster) -> dict[str, float]:
    """Each loaded alerting rule's `for:` in seconds, from the monitoring node's Prometheus."""
    rules = Prometheus.of(cluster).alerting_rules()
    return {name: float(rule["duration"]) for name, rule in rules.items()}


def run_fault(  # noqa: PLR0917 - one call site, each argument named there
    cluster: ChaosCluster,
    fault: Fault,
    seed: int,
    rate_per_s: float,
    before: dict[str, Any],
    progress: Callable[[str], None] = print,
) -> tuple[FaultResult, dict[str, Any]]:
    """Inject, hold and heal one fault under load; reconcile; measure its rows' delays."""
    planned_s = WARMUP_S + fault.hold_s + fault.expected_heal_s + TAIL_S
    load = SteadyLoad.start(cluster, seed, int(rate_per_s * planned_s), rate_per_s)
    time.sleep(WARMUP_S)
    state: dict[str, Any] = {}
    error = ""
    injected = time.time()
    watches = [
        AlertWatch(Prometheus.of(cluster), name, started=injected).start() for name in fault.alerts
    ]
    progress(f"{fault.name}: {fault.description}")
    in_place = injected
    try:
        try:
            fault.inject(cluster, state)
            in_place = time.time()
            time.sleep(max(0.0, fault.hold_s - (in_place - injected)))
        except (ChaosError, OSError) as failure:
            error = f"inject: {failure}"
        try:
            fault.heal(cluster, state)
        except (ChaosError, OSError) as failure:
            error = (error + "; " if error else "") + f"heal: {failure}"
    except BaseException:
        load.stop()  # an unexpected failure (or Ctrl-C) ends the run: its load must end too
        raise
    healed = time.time()
    progress(f"{fault.name}: healed after {healed - injected:.0f} s")
    table_rows = load.wait(cluster, timeout_s=planned_s + PUBLISH_TIMEOUT_S)
    topic_size = wait_published(cluster, table_rows)
    unpublished = max(0, table_rows - topic_size)
    if unpublished:
        error = (error + "; " if error else "") + f"{unpublished} rows of MariaDB never published"
    summary = cluster.reconcile()
    rows = cluster.stored_delays(load.member_prefix)
    alerts = alert_results(watches, healed, fault.alert_window_s)
    in_place_s = round(in_place - injected, 1)
    try:
        rules = rule_durations(cluster) if fault.alerts else {}
    except (ChaosError, OSError, ValueError) as failure:
        rules = {}
        error = (error + "; " if error else "") + f"alerting rules: {failure}"
    problems = alert_problems(
        alerts,
        fault.alerts,
        rules,
        held_s=fault.hold_s,
        in_place_s=in_place_s,
        window_s=fault.alert_window_s,
    )
    result = FaultResult(
        fault=fault.name,
        description=fault.description,
        held_s=fault.hold_s,
        recovered_s=recovery_seconds(rows, int(injected * 1000)),
        published=summary["published"] - before.get("published", 0),
        stored=summary["stored"] - before.get("stored", 0),
        dead_lettered=summary["dead_lettered"] - before.get("dead_lettered", 0),
        lost=lost_from(summary) + unpublished,
        extra=summary["extra_rows"],
        differences=summary["differences"],
        max_delay_s=max_delay_seconds(rows),
        error=error or "; ".join(summary.get("first_differences", [])[:3]),
        details=", ".join(f"{key} {value}" for key, value in state.items() if key != "since"),
        victim=str(state.get("host") or ""),
        alerts=alerts,
        in_place_s=in_place_s,
        alert_problems=problems,
    )
    progress(table([result]))
    return result, summary


def run_faults(
    cluster: ChaosCluster,
    faults: Sequence[Fault],
    rate_per_s: float = DEFAULT_RATE_PER_S,
    progress: Callable[[str], None] = print,
) -> Run:
    run = Run()
    before = cluster.reconcile()
    seed = first_seed()
    for index, fault in enumerate(faults):
        why = fault.reason_not_applicable(cluster.groups)
        if why:
            run.not_applicable[fault.name] = why
            continue
        result, before = run_fault(cluster, fault, seed + index, rate_per_s, before, progress)
        run.results.append(result)
    return run
