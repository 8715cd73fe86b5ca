"""AlertWatch's bookkeeping of one alert through a fault: pending, firing, resolved (the answers
of Prometheus's /api/v1/alerts scripted; the cluster test reads the real ones)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lendstream.chaos.alerts import AlertWatch, Prometheus


@dataclass(frozen=True)
class ScriptedPrometheus(Prometheus):
    answers: list[list[dict[str, Any]] | OSError] = field(default_factory=list)

    def alerts(self) -> list[dict[str, Any]]:
        answer = self.answers.pop(0)
        if isinstance(answer, OSError):
            raise answer
        return answer


def alert(name: str, state: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "instance": "m1:7072"}, "state": state}


def test_pending_then_firing_then_resolved_are_each_timed_once() -> None:
    prometheus = ScriptedPrometheus(
        "http://m2:9190",
        [
            [alert("NodeDown", "firing")],  # another alert: not this one
            [alert("KafkaBrokerDown", "pending")],
            OSError("connection refused"),  # Prometheus unreachable for a moment: counted
            [alert("KafkaBrokerDown", "firing")],
            [alert("KafkaBrokerDown", "firing")],
            [],
        ],
    )
    watch = AlertWatch(prometheus, "KafkaBrokerDown", started=0.0)
    seen = []
    for _ in range(6):
        watch.sample()
        seen.append((watch.pending_at is not None, watch.firing_at is not None, watch.present))
    assert seen == [
        (False, False, False),
        (True, False, True),
        (True, False, True),
        (True, True, True),
        (True, True, True),
        (True, True, False),
    ]
    assert watch.errors == 1
    assert watch.pending_at is not None
    assert watch.firing_at is not None
    assert watch.resolved_at is not None
    assert watch.resolved_at >= watch.firing_at
    assert watch.seconds(watch.pending_at) == round(watch.pending_at, 1)


def test_an_alert_seen_again_is_not_resolved() -> None:
    prometheus = ScriptedPrometheus(
        "http://m2:9190",
        [[alert("NodeDown", "pending")], [], [alert("NodeDown", "pending")]],
    )
    watch = AlertWatch(prometheus, "NodeDown")
    for _ in range(3):
        watch.sample()
    assert watch.present
    assert watch.resolved_at is None
    assert watch.firing_at is None
