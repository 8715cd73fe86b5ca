"""gunicorn configuration for the risk service (values from :mod:`.settings`).

Several workers, each with a few threads: scoring is CPU work in numpy/scikit-learn, so on more
than one core processes scale where threads cannot. Prometheus counters are per process, so the
workers run in prometheus_client's multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` is set here,
before any worker imports prometheus_client, wiped when the master starts, and a dead worker's
live gauges are dropped when it exits.

Run: ``python -m lendstream.services.risk_service``, or ``gunicorn -c
python:lendstream.services.risk_service.gunicorn_conf
'lendstream.services.risk_service.app:create_app()'``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lendstream.services.risk_service.settings import server_settings

_server = server_settings()
_made_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _made_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="lendstream-risk-metrics-")
_metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])

bind = _server.bind
workers = _server.workers
threads = _server.threads
# HTTPS when the settings name a certificate and key (the cluster's roles do; the local stack not).
certfile = _server.certfile
keyfile = _server.keyfile
worker_class = "gthread"
timeout = 30
graceful_timeout = 10
errorlog = "-"
loglevel = "info"
proc_name = "lendstream-risk-service"
# No control socket: its default path is per user, and several services share this machine.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Start from empty metrics: files of an earlier run would be summed into this one's."""
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in _metrics_dir.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess  # noqa: PLC0415 - only after the env var is set

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if _made_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
