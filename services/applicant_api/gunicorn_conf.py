"""gunicorn configuration for the applicant API (values from :mod:`.settings`).

Prometheus counters are per process, so the workers run in prometheus_client's multiprocess
mode: ``PROMETHEUS_MULTIPROC_DIR`` (the environment's, or a private one made here) is set before
any worker imports prometheus_client, emptied when the master starts, and a dead worker's live
gauges are dropped when it exits (:mod:`lendstream.services.gunicorn_metrics`).

Run: ``gunicorn -c python:lendstream.services.applicant_api.gunicorn_conf \
'lendstream.services.applicant_api.app:create_app()'`` — or ``python -m
lendstream.services.applicant_api``, which runs exactly that.
"""

from typing import Any

from lendstream.services.applicant_api.settings import server_settings
from lendstream.services.gunicorn_metrics import GunicornMetricsDirectory

_server = server_settings()
_metrics = GunicornMetricsDirectory(prefix="lendstream-api-metrics-")

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
proc_name = "lendstream-applicant-api"
# No control socket: its default path is per user, and several services share this machine.
control_socket_disable = True


def on_starting(server: Any) -> None:
    _metrics.clear()


def child_exit(server: Any, worker: Any) -> None:
    _metrics.worker_exited(worker.pid)


def on_exit(server: Any) -> None:
    _metrics.remove()
