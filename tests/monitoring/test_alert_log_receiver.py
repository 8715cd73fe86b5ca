"""The default receiver end to end: Debian's Alertmanager, run with the flags and configuration
the alertmanager role renders, hands a firing and then a resolved alert to the log receiver,
which writes one JSON line per alert."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from local_processes import is_listening, running, wait_until
from monitoring_files import RenderedMonitoring, unit_flags

START_TIMEOUT_S = 60
NOTIFY_TIMEOUT_S = 60
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def _logged_alerts(log_path: Path) -> list[dict[str, object]]:
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    return [json.loads(line) for line in lines if line.startswith("{")]


def _alertmanager_flags(rendered: RenderedMonitoring, storage: Path) -> list[str]:
    """The rendered flags, with the state directory moved into the test's."""
    flags = unit_flags(rendered.root / "alertmanager.env")
    return [
        *[flag for flag in flags if not flag.startswith("--storage.path=")],
        f"--storage.path={storage}",
    ]


def _post_alert(port: int, ends_at: datetime | None = None) -> None:
    alert: dict[str, object] = {
        "labels": {"alertname": "NodeDown", "instance": "m1:9100", "severity": "critical"},
        "annotations": {"summary": "Node m1:9100 does not answer"},
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    response = requests.post(f"http://127.0.0.1:{port}/api/v2/alerts", json=[alert], timeout=10)
    assert response.status_code == 200, response.text


def test_alertmanager_hands_firing_and_resolved_alerts_to_the_log(
    rendered_monitoring: RenderedMonitoring, tmp_path: Path
) -> None:
    assert shutil.which(ALERTMANAGER), "run bin/bootstrap (Debian's prometheus-alertmanager)"
    log_receiver = rendered_monitoring.alertmanager_dir / "bin" / "alert-log"
    receiver_port = rendered_monitoring.log_receiver_port
    alertmanager_port = rendered_monitoring.alertmanager_port
    receiver_log = tmp_path / "alert-log.out"
    alertmanager_log = tmp_path / "alertmanager.log"
    with (
        running([str(log_receiver), "127.0.0.1", str(receiver_port)], receiver_log) as receiver,
        running(
            [ALERTMANAGER, *_alertmanager_flags(rendered_monitoring, tmp_path / "state")],
            alertmanager_log,
        ) as alertmanager,
    ):
        wait_until(
            lambda: is_listening("127.0.0.1", receiver_port),
            START_TIMEOUT_S,
            "log receiver listening",
            receiver,
            receiver_log,
        )
        wait_until(
            lambda: is_listening("127.0.0.1", alertmanager_port),
            START_TIMEOUT_S,
            "alertmanager listening",
            alertmanager,
            alertmanager_log,
        )
        _post_alert(alertmanager_port)
        wait_until(
            lambda: any(alert["status"] == "firing" for alert in _logged_alerts(receiver_log)),
            NOTIFY_TIMEOUT_S,
            "firing alert logged",
            alertmanager,
            alertmanager_log,
        )
        _post_alert(alertmanager_port, ends_at=datetime.now(UTC) - timedelta(seconds=1))
        wait_until(
            lambda: any(alert["status"] == "resolved" for alert in _logged_alerts(receiver_log)),
            NOTIFY_TIMEOUT_S,
            "resolved alert logged",
            alertmanager,
            alertmanager_log,
        )
        refused = requests.post(f"http://127.0.0.1:{receiver_port}/", data=b"not json", timeout=10)
    firing = next(alert for alert in _logged_alerts(receiver_log) if alert["status"] == "firing")
    assert firing["alertname"] == "NodeDown"
    assert firing["labels"] == {
        "alertname": "NodeDown",
        "instance": "m1:9100",
        "severity": "critical",
    }
    assert firing["annotations"] == {"summary": "Node m1:9100 does not answer"}
    assert firing["receiver"] == "log"
    assert refused.status_code == 400
