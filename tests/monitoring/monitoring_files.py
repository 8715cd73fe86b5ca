"""Where render-monitoring.yml puts the monitoring files; Debian's promtool and amtool."""

from __future__ import annotations

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
