"""Prometheus on the monitoring node, read from the controller over its HTTP API (the prometheus
role opens its port to the controller): scrape targets' `up`, the loaded alerting rules, and the
alerts and their states; `AlertWatch` follows one alert through a fault (pending, firing,
resolved)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from lendstream.chaos.cluster import ChaosCluster, ChaosError, role_default

API_TIMEOUT_S = 5.0
WATCH_PERIOD_S = 2.0


@dataclass(frozen=True)
class Prometheus:
    base_url: str

    @classmethod
    def of(cls, cluster: ChaosCluster) -> Prometheus:
        """The Prometheus of the layout's monitoring node, at its cluster address."""
        monitoring = cluster.hosts("monitoring")
        if not monitoring:
            raise ChaosError("no host in the monitoring group: no Prometheus to ask")
        port = role_default("prometheus", "prometheus_port")
        return cls(f"http://{cluster.address(monitoring[0])}:{port}")

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(self.base_url + path + query, timeout=API_TIMEOUT_S) as answer:
            document = json.load(answer)
        if document.get("status") != "success":
            raise ChaosError(f"Prometheus {path}: {document}")
        return document["data"]

    def up(self) -> dict[tuple[str, str], float]:
        """Every scrape target's last `up`, by (job, instance)."""
        return {
            (series["metric"]["job"], series["metric"]["instance"]): float(series["value"][1])
            for series in self.get("/api/v1/query", query="up")["result"]
        }

    def value(self, query: str) -> float | None:
        """The first sample of an instant query; None when it has none or Prometheus does not
        answer (its node may be a fault's victim)."""
        try:
            result = self.get("/api/v1/query", query=query)["result"]
        except (OSError, ValueError, ChaosError):
            return None
        return float(result[0]["value"][1]) if result else None

    def alerting_rules(self) -> dict[str, dict[str, Any]]:
        """The loaded alerting rules by name (each with its group, `duration` in seconds, …)."""
        return {
            rule["name"]: {**rule, "group": group["name"]}
            for group in self.get("/api/v1/rules", type="alert")["groups"]
            for rule in group["rules"]
        }

    def alerts(self) -> list[dict[str, Any]]:
        """The pending and firing alerts (labels, state, activeAt)."""
        return list(self.get("/api/v1/alerts")["alerts"])


@dataclass
class AlertWatch:
    """Polls Prometheus every WATCH_PERIOD_S for one alert (by name): the seconds from `started`
    until it was first pending and first firing, and when it went away."""

    prometheus: Prometheus
    alert: str
    started: float = field(default_factory=time.time)
    pending_at: float | None = None
    firing_at: float | None = None
    resolved_at: float | None = None  # the first answer without it after it was seen
    present: bool = False
    sampled_at: float = 0.0  # the last answer of Prometheus
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> AlertWatch:
        self._thread = threading.Thread(target=self._poll, name=f"watch {self.alert}", daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(WATCH_PERIOD_S)

    def sample(self) -> None:
        try:
            states = {
                a["state"]
                for a in self.prometheus.alerts()
                if a["labels"]["alertname"] == self.alert
            }
        except (OSError, ValueError, ChaosError):
            self.errors += 1  # Prometheus's node may be the fault's victim: counted, not fatal
            return
        now = time.time()
        if self.present and not states:
            self.resolved_at = now
        self.present = bool(states)
        self.sampled_at = now
        if states:
            self.resolved_at = None
            if self.pending_at is None:
                self.pending_at = now
            if "firing" in states and self.firing_at is None:
                self.firing_at = now

    def wait_resolved(self, timeout_s: float) -> bool:
        """Wait (bounded) until the alert is neither pending nor firing; True when it went."""
        asked = time.time()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.sampled_at > asked and not self.present:
                return True
            time.sleep(WATCH_PERIOD_S)
        return False

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=API_TIMEOUT_S * 2)

    def seconds(self, at: float | None, since: float | None = None) -> float | None:
        return None if at is None else round(at - (self.started if since is None else since), 1)
