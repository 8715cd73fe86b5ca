"""gunicorn configuration for the Storm UI (:mod:`lendstream.services.gunicorn_config`, values
from :mod:`.settings`).

One worker with a few threads: every request is a short Thrift call to nimbus, I/O not CPU.

Run: ``python -m lendstream.storm_ui [--bind HOST:PORT]``, or ``gunicorn -c
python:lendstream.storm_ui.gunicorn_conf 'lendstream.storm_ui.app:create_app()'``.
"""

from lendstream.services.gunicorn_config import gunicorn_settings
from lendstream.storm_ui.settings import server_settings

globals().update(gunicorn_settings(server_settings(), "lendstream-storm-ui", timeout=60))
