"""``python -m lendstream.services.risk_service``: serve the risk service under gunicorn."""

from lendstream.services.gunicorn_runner import run_gunicorn

if __name__ == "__main__":
    run_gunicorn(
        "lendstream.services.risk_service.gunicorn_conf",
        "lendstream.services.risk_service.app:create_app()",
    )
