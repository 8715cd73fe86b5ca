"""Where render-monitoring.yml puts the monitoring files; Debian's promtool and amtool."""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RenderedMonitoring:
    """Where render-monitoring.yml put each file, and the loopback ports it was given."""

    root: Path
    alertmanager_port: int
    log_receiver_port: int

    @property
    def prometheus_dir(self) -> Path:
        return self.root / "prometheus"

    @property
    def rules_dir(self) -> Path:
        return self.root / "prometheus" / "rules"

    @property
    def alertmanager_dir(self) -> Path:
        return self.root / "alertmanager"


def debian_tool(name: str) -> str:
    """Path of promtool / amtool; a clear failure when bootstrap has not installed them."""
    path = shutil.which(name)
    assert path, f"{name} is missing: run bin/bootstrap (Debian's prometheus, alertmanager)"
    return path


def unit_flags(environment_file: Path) -> list[str]:
    """The ARGS of a Debian unit's environment file, split as systemd splits the unit's $ARGS."""
    lines = [line for line in environment_file.read_text().splitlines() if line.startswith("ARGS=")]
    assert len(lines) == 1, environment_file.read_text()
    (assignment,) = shlex.split(lines[0])
    return assignment.removeprefix("ARGS=").split()
