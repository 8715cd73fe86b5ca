"""gunicorn configuration for the applicant API (values from :mod:`.settings`).

Run: ``gunicorn -c python:lendstream.services.applicant_api.gunicorn_conf \
'lendstream.services.applicant_api.app:create_app()'`` — or ``python -m
lendstream.services.applicant_api``, which runs exactly that.
"""

from lendstream.services.applicant_api.settings import server_settings

_server = server_settings()

bind = _server.bind
workers = _server.workers
threads = _server.threads
worker_class = "gthread"
timeout = 30
graceful_timeout = 10
errorlog = "-"
loglevel = "info"
proc_name = "lendstream-applicant-api"
# No control socket: its default path is per user, and several services share this machine.
control_socket_disable = True
