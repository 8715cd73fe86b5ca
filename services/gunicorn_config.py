"""The web services' one gunicorn configuration; each service's ``gunicorn_conf`` applies it.

A service's configuration module is then two lines::

    from lendstream.services.gunicorn_config import gunicorn_settings
    globals().update(gunicorn_settings(server_settings(), "lendstream-<service>", ...))

gunicorn reads the module's names (``bind``, ``workers``…, the hooks ``on_starting``,
``child_exit`` and ``on_exit``). Several workers with a few threads each (``gthread``); HTTPS when
the settings name a certificate and key (the cluster's roles do; the local stack not); no control
socket (its default path is per user, and several services share a machine).

With ``metrics_prefix``, the workers run in prometheus_client's multiprocess mode: counters are
per process, so ``PROMETHEUS_MULTIPROC_DIR`` (the environment's, or a private one made here) is set
when the configuration is read, before any worker imports prometheus_client, emptied when the
master starts, and a dead worker's live gauges are dropped when it exits
(:mod:`lendstream.services.gunicorn_metrics`).
"""

from __future__ import annotations

from typing import Any

from lendstream.services.gunicorn_metrics import GunicornMetricsDirectory
from lendstream.services.gunicorn_runner import ServerSettings


def gunicorn_settings(
    server: ServerSettings, proc_name: str, *, metrics_prefix: str | None = None, timeout: int = 30
) -> dict[str, Any]:
    """gunicorn's settings by name, for a configuration module's globals."""
    settings: dict[str, Any] = {
        "bind": server.bind,
        "workers": server.workers,
        "threads": server.threads,
        "certfile": server.certfile,
        "keyfile": server.keyfile,
        "worker_class": "gthread",
        "timeout": timeout,
        "graceful_timeout": 10,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": proc_name,
        "control_socket_disable": True,
    }
    if metrics_prefix is not None:
        settings.update(_metrics_hooks(GunicornMetricsDirectory(prefix=metrics_prefix)))
    return settings


def _metrics_hooks(metrics: GunicornMetricsDirectory) -> dict[str, Any]:
    def on_starting(server: Any) -> None:
        metrics.clear()

    def child_exit(server: Any, worker: Any) -> None:
        metrics.worker_exited(worker.pid)

    def on_exit(server: Any) -> None:
        metrics.remove()

    return {"on_starting": on_starting, "child_exit": child_exit, "on_exit": on_exit}
