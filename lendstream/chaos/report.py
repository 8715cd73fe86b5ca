"""What one fault did to the pipeline, and the table of all of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

# A record stored within this many seconds of its Kafka timestamp counts as on time: the pipeline
# has recovered once no later-stored record is slower.
ON_TIME_S = 10.0
# When an alert must fire and resolve (Prometheus on the monitoring node): a scrape and a rule
# evaluation (15 s each) before it is pending; then its rule's `for:`. It must fire within `for:`
# plus ALERT_MARGIN_S of the moment the fault is fully in place (an injection can take a while:
# a model pushed to three nodes, a safe mode entered), and be gone within ALERT_RESOLVE_S (plus
# the rule's rate window) of the healing.
SCRAPE_AND_EVALUATION_S = 30.0
ALERT_MARGIN_S = SCRAPE_AND_EVALUATION_S + 15
ALERT_RESOLVE_S = 60.0


@dataclass(frozen=True)
class AlertResult:
    """What one alert a fault should raise did (Prometheus on the monitoring node)."""

    alert: str
    pending_s: float | None = None  # seconds from the injection until first pending
    fired_s: float | None = None  # … until it fired; None when it never did
    resolved_s: float | None = None  # seconds from the healing until gone; None: still active


@dataclass(frozen=True)
class FaultResult:
    fault: str
    description: str
    held_s: float
    # Seconds from the injection until the last record delayed beyond ON_TIME_S was stored (0 when
    # none was); None when the fault could not be injected or checked.
    recovered_s: float | None
    published: int  # records added to the applicant topic during this fault's window
    stored: int  # rows added to HBase
    dead_lettered: int  # applicants added to the dead-letter topic
    lost: int  # published, neither stored nor dead-lettered (whole topic, after this fault)
    extra: int  # rows in HBase that no published record explains (whole topic)
    differences: int  # everything the reconcile found wrong (whole topic)
    max_delay_s: float | None  # largest Kafka timestamp → HBase write time of this fault's rows
    error: str = ""  # why the fault or its check failed
    details: str = ""  # what the fault observed (victim host, quorum figures, …)
    victim: str = ""  # the node the fault was injected on, when it names one
    alerts: tuple[AlertResult, ...] = ()  # one per alert the fault should raise (Fault.alerts)
    in_place_s: float = 0.0  # seconds the injection itself took (until the fault was in place)
    alert_problems: tuple[str, ...] = ()  # alerts that did not fire or resolve in time

    @property
    def passed(self) -> bool:
        return (
            not self.error
            and not self.alert_problems
            and self.lost == 0
            and self.extra == 0
            and self.differences == 0
        )

    def as_dict(self) -> dict[str, Any]:
        alerts = [asdict(alert) for alert in self.alerts]
        return {**asdict(self), "alerts": alerts, "passed": self.passed}


def alert_problems(
    alerts: Sequence[AlertResult],
    expected: Sequence[str],
    rule_for_s: Mapping[str, float],
    *,
    held_s: float,
    in_place_s: float,
    window_s: float = 0.0,
) -> tuple[str, ...]:
    """What is wrong with the alerts a fault raised: each expected alert watched; when the fault
    stayed in place (``held_s`` from the injection's start, ``in_place_s`` of it injecting) beyond
    the rule's `for:` and a scrape and an evaluation, fired within `for:` plus ALERT_MARGIN_S of
    the fault being in place; once active, gone within ALERT_RESOLVE_S plus ``window_s`` of the
    healing."""
    watched = [alert.alert for alert in alerts]
    if watched != list(expected):
        return (f"alerts watched {watched}, expected {list(expected)}",)
    problems = []
    for alert in alerts:
        for_s = rule_for_s.get(alert.alert)
        if for_s is None:
            problems.append(f"{alert.alert}: no such alerting rule loaded")
            continue
        if held_s - in_place_s > for_s + SCRAPE_AND_EVALUATION_S:
            bound_s = in_place_s + for_s + ALERT_MARGIN_S
            if alert.fired_s is None:
                problems.append(f"{alert.alert} never fired")
            elif alert.fired_s > bound_s:
                problems.append(
                    f"{alert.alert} fired after {alert.fired_s:.0f} s, bound {bound_s:.0f} s"
                )
        if alert.pending_s is not None:
            resolve_bound_s = ALERT_RESOLVE_S + window_s
            if alert.resolved_s is None:
                problems.append(f"{alert.alert} still active after the healing")
            elif alert.resolved_s > resolve_bound_s:
                problems.append(
                    f"{alert.alert} gone {alert.resolved_s:.0f} s after the healing, "
                    f"bound {resolve_bound_s:.0f} s"
                )
    return tuple(problems)


def recovery_seconds(
    rows: Sequence[tuple[int, int]], injected_ms: int, on_time_s: float = ON_TIME_S
) -> float:
    """From (Kafka timestamp ms, stored ms) pairs: seconds from the injection until the last
    record published after it that took longer than ``on_time_s`` was stored; 0 when none did."""
    late = [
        stored_ms
        for kafka_ms, stored_ms in rows
        if stored_ms >= injected_ms and stored_ms - kafka_ms > on_time_s * 1000
    ]
    return max(0.0, (max(late) - injected_ms) / 1000) if late else 0.0


def max_delay_seconds(rows: Sequence[tuple[int, int]]) -> float | None:
    return max((stored - kafka) / 1000 for kafka, stored in rows) if rows else None


def lost_from(summary: dict[str, Any]) -> int:
    """Published records the reconcile accounts for neither as stored, dead-lettered nor
    superseded by a newer record of the same member."""
    accounted = summary["stored"] + summary["dead_lettered"] + summary.get("superseded", 0)
    return max(0, summary["published"] - accounted)


COLUMNS = (
    ("fault", "fault"),
    ("held s", "held_s"),
    ("recovered s", "recovered_s"),
    ("published", "published"),
    ("stored", "stored"),
    ("dead-lettered", "dead_lettered"),
    ("lost", "lost"),
    ("extra", "extra"),
    ("max delay s", "max_delay_s"),
    ("result", "result"),
)


def _cell(result: FaultResult, attribute: str) -> str:
    if attribute == "result":
        return "ok" if result.passed else "FAILED"
    value = getattr(result, attribute)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if attribute == "held_s" else f"{value:.1f}"
    return str(value)


ALERT_COLUMNS = ("fault", "alert", "pending s", "fired s", "resolved s")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def alert_note(alert: AlertResult) -> str:
    """What one alert did: pending, firing and resolved, each in seconds."""
    if alert.pending_s is None:
        return f"alert {alert.alert} never pending nor firing"
    resolved = (
        "still active after the healing"
        if alert.resolved_s is None
        else f"gone {alert.resolved_s:.0f} s after the healing"
    )
    fired = "never firing" if alert.fired_s is None else f"firing after {alert.fired_s:.0f} s"
    return (
        f"alert {alert.alert} pending after {alert.pending_s:.0f} s, {fired} "
        f"(from the injection), {resolved}"
    )


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def table(results: Sequence[FaultResult]) -> str:
    """One row per fault, then (when a fault watched alerts) one row per alert, then notes."""
    rows = [[title for title, _ in COLUMNS]]
    rows += [[_cell(result, attribute) for _, attribute in COLUMNS] for result in results]
    lines = _aligned(rows)
    alert_rows = [
        [r.fault, a.alert, _seconds(a.pending_s), _seconds(a.fired_s), _seconds(a.resolved_s)]
        for r in results
        for a in r.alerts
    ]
    if alert_rows:
        lines += ["", *_aligned([list(ALERT_COLUMNS), *alert_rows])]
    notes = [f"{r.fault}: {r.error}" for r in results if r.error]
    notes += [f"{r.fault}: {problem}" for r in results for problem in r.alert_problems]
    notes += [
        f"{r.fault}: in place {r.in_place_s:.0f} s after the injection began"
        for r in results
        if r.in_place_s >= 1
    ]
    notes += [f"{r.fault}: {r.details}" for r in results if r.details]
    notes += [f"{r.fault}: {alert_note(a)}" for r in results for a in r.alerts]
    return "\n".join([*lines, "", *notes] if notes else lines)
