"""gunicorn configuration for the risk service (:mod:`lendstream.services.gunicorn_config`,
values from :mod:`.settings`; workers' metrics in multiprocess mode).

Several workers, each with a few threads: scoring is CPU work in numpy/scikit-learn, so on more
than one core processes scale where threads cannot.

Run: ``python -m lendstream.services.risk_service``, or ``gunicorn -c
python:lendstream.services.risk_service.gunicorn_conf
'lendstream.services.risk_service.app:create_app()'``.
"""

from lendstream.services.gunicorn_config import gunicorn_settings
from lendstream.services.risk_service.settings import server_settings

globals().update(
    gunicorn_settings(
        server_settings(), "lendstream-risk-service", metrics_prefix="lendstream-risk-metrics-"
    )
)
