"""``python -m lendstream.services.applicant_api``: serve the API under gunicorn."""

from lendstream.services.gunicorn_runner import run_gunicorn

if __name__ == "__main__":
    run_gunicorn(
        "lendstream.services.applicant_api.gunicorn_conf",
        "lendstream.services.applicant_api.app:create_app()",
    )
