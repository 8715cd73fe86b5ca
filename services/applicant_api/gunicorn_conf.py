"""gunicorn configuration for the applicant API (:mod:`lendstream.services.gunicorn_config`,
values from :mod:`.settings`; workers' metrics in multiprocess mode).

Run: ``gunicorn -c python:lendstream.services.applicant_api.gunicorn_conf \
'lendstream.services.applicant_api.app:create_app()'`` — or ``python -m
lendstream.services.applicant_api``, which runs exactly that.
"""

from lendstream.services.applicant_api.settings import server_settings
from lendstream.services.gunicorn_config import gunicorn_settings

globals().update(
    gunicorn_settings(
        server_settings(), "lendstream-applicant-api", metrics_prefix="lendstream-api-metrics-"
    )
)
