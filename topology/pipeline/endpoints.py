"""Which of several equivalent endpoints (risk services, HBase Thrift servers) a task talks to.

On a cluster there are several risk-service nodes and several HBase Thrift servers. Each bolt
task starts at the endpoint its task index points to (task ``i`` of the component takes endpoint
``i % n``), so the tasks spread over the endpoints; on a connection error it moves on to the next
one, round the list. The single-machine stack simply has a list of one.

Lists travel through the Storm configuration as comma-separated strings (``"a,b,c"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def split_list(value: str) -> tuple[str, ...]:
    """``"a, b,,c"`` → ``("a", "b", "c")``: blanks around and between entries are ignored."""
    return tuple(entry.strip() for entry in value.split(",") if entry.strip())


def rotated(endpoints: Sequence[str], task_index: int) -> tuple[str, ...]:
    """The endpoints in the order task ``task_index`` tries them: its own first, then the next."""
    if not endpoints:
        raise ValueError("no endpoint given")
    if task_index < 0:
        raise ValueError(f"task index must not be negative: {task_index}")
    start = task_index % len(endpoints)
    return tuple(endpoints[start:]) + tuple(endpoints[:start])


class EndpointRotation:
    """The endpoint in use, and the next one to fail over to after a connection error."""

    def __init__(self, endpoints: Sequence[str]) -> None:
        if not endpoints:
            raise ValueError("no endpoint given")
        self._endpoints = tuple(endpoints)
        self._position = 0
        self.failovers = 0  # how often this rotation moved on (for logs and tests)

    @property
    def endpoints(self) -> tuple[str, ...]:
        return self._endpoints

    @property
    def current(self) -> str:
        return self._endpoints[self._position]

    def fail_over(self) -> str:
        """Move on to the next endpoint (round the list) and return it."""
        self._position = (self._position + 1) % len(self._endpoints)
        self.failovers += 1
        return self.current


def task_position(context: dict[str, Any]) -> tuple[int, int]:
    """This task's index among its component's tasks, and how many there are (from the
    component context Storm hands to ``initialize``)."""
    component = context["componentid"]
    task_ids = sorted(
        int(task) for task, name in context["task->component"].items() if name == component
    )
    return task_ids.index(int(context["taskid"])), len(task_ids)
