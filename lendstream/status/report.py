"""The status report: one table per component, a verdict, and its text and JSON forms (pure)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Row:
    """One service (``role``) on one node and its state; ``healthy`` False names it a problem."""

    node: str
    role: str
    state: str
    healthy: bool = True


@dataclass
class Component:
    """A component's rows and what is wrong with it as a whole (no leader, two leaders …)."""

    name: str
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def all_problems(self) -> list[str]:
        """Unhealthy rows grouped by service and state (``kafka broker not registered on w1,
        w2``), then the component's own problems."""
        nodes_by_state: dict[tuple[str, str], list[str]] = {}
        for row in self.rows:
            if not row.healthy:
                nodes_by_state.setdefault((row.role, row.state), []).append(row.node)
        rows = [
            f"{self.name} {role} {state}" + ("" if nodes == ["-"] else f" on {', '.join(nodes)}")
            for (role, state), nodes in nodes_by_state.items()
        ]
        return rows + [f"{self.name}: {problem}" for problem in self.problems]


def merged_rows(rows: list[Row]) -> list[Row]:
    """Consecutive healthy rows of one role and state as one row (``w1,w2,w3  datanode  live``)."""
    merged: list[Row] = []
    for row in rows:
        last = merged[-1] if merged else None
        if (
            last
            and last.healthy
            and row.healthy
            and (last.role, last.state) == (row.role, row.state)
        ):
            merged[-1] = Row(f"{last.node},{row.node}", row.role, row.state)
        else:
            merged.append(row)
    return merged


@dataclass
class Report:
    components: list[Component]

    @property
    def problems(self) -> list[str]:
        return [problem for c in self.components for problem in c.all_problems()]

    @property
    def healthy(self) -> bool:
        return not self.problems

    def verdict(self) -> str:
        return "HEALTHY" if self.healthy else "UNHEALTHY: " + "; ".join(self.problems)

    def as_json(self) -> str:
        document: dict[str, Any] = {
            "healthy": self.healthy,
            "problems": self.problems,
            "components": [asdict(c) for c in self.components],
        }
        return json.dumps(document, indent=2)

    def as_text(self) -> str:
        """One block per component: ``node  role  state`` rows (``!`` marks a problem; healthy
        neighbours in the same role and state share a row, their nodes comma-separated), then the
        component's own problems; the verdict last."""
        lines: list[str] = []
        for component in self.components:
            lines.append(f"{component.name}")
            rows = merged_rows(component.rows)
            node_width = max((len(r.node) for r in rows), default=0)
            role_width = max((len(r.role) for r in rows), default=0)
            for row in rows:
                mark = " " if row.healthy else "!"
                node, role = row.node.ljust(node_width), row.role.ljust(role_width)
                lines.append(f" {mark} {node}  {role}  {row.state}".rstrip())
            lines.extend(f" ! {problem}" for problem in component.problems)
        lines.append(self.verdict())
        return "\n".join(lines)
