"""Debian's Prometheus started with the flags the prometheus role renders (listen address and
database moved to the test's) loads every rendered rules file. Its prometheus.yml is the rendered
one without scrape jobs and Alertmanagers: the ci nodes' names mean nothing on this machine
(test_monitoring_config.py checks those parts)."""

from __future__ import annotations

import shutil
from pathlib import Path

import requests
import yaml
from local_processes import free_port, running, wait_until
from monitoring_files import RenderedMonitoring, unit_flags

PROMETHEUS = "/usr/bin/prometheus"
START_TIMEOUT_S = 90


def _flags(rendered: RenderedMonitoring, port: int, work_dir: Path) -> list[str]:
    """The rendered flags; the configuration, listen address and database the test's."""
    config = yaml.safe_load((rendered.prometheus_dir / "prometheus.yml").read_text())
    remote = {"scrape_configs", "alerting"}
    local = {key: value for key, value in config.items() if key not in remote}
    (work_dir / "prometheus.yml").write_text(yaml.safe_dump(local))
    moved = ("--web.listen-address=", "--storage.tsdb.path=", "--config.file=")
    flags = [
        flag for flag in unit_flags(rendered.root / "prometheus.env") if not flag.startswith(moved)
    ]
    return [
        *flags,
        f"--config.file={work_dir / 'prometheus.yml'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.tsdb.path={work_dir / 'data'}",
    ]


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/-/ready", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_prometheus_loads_every_rendered_rules_file_with_the_rendered_flags(
    rendered_monitoring: RenderedMonitoring, tmp_path: Path
) -> None:
    assert shutil.which(PROMETHEUS), "run bin/bootstrap (Debian's prometheus)"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "prometheus.log"
    command = [PROMETHEUS, *_flags(rendered_monitoring, port, tmp_path)]
    with running(command, log) as prometheus:
        wait_until(lambda: _ready(url), START_TIMEOUT_S, "prometheus ready", prometheus, log)
        rules = requests.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
        flags = requests.get(f"{url}/api/v1/status/flags", timeout=10).json()["data"]
    rendered_groups = sorted(path.stem for path in rendered_monitoring.rules_dir.glob("*.yml"))
    assert sorted(group["name"] for group in rules) == rendered_groups
    rendered_rules = sum(
        len(group["rules"])
        for path in rendered_monitoring.rules_dir.glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
    )
    assert sum(len(group["rules"]) for group in rules) == rendered_rules > 0
    assert flags["storage.tsdb.retention.time"] == "15d"
    assert flags["storage.tsdb.retention.size"] == "2GiB"  # Prometheus reads GB as GiB
