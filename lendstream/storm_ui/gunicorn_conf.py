"""gunicorn configuration for the Storm UI (values from :mod:`.settings`).

One worker with a few threads: every request is a short Thrift call to nimbus, I/O not CPU.

Run: ``python -m lendstream.storm_ui [--bind HOST:PORT]``, or ``gunicorn -c
python:lendstream.storm_ui.gunicorn_conf 'lendstream.storm_ui.app:create_app()'``.
"""

from __future__ import annotations

from lendstream.storm_ui.settings import server_settings

_server = server_settings()

bind = _server.bind
workers = _server.workers
threads = _server.threads
worker_class = "gthread"
timeout = 60
graceful_timeout = 10
errorlog = "-"
loglevel = "info"
proc_name = "lendstream-storm-ui"
# No control socket: its default path is per user, and several services share this machine.
control_socket_disable = True
