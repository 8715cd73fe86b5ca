"""``python -m lendstream.storm_ui [--bind HOST:PORT]``: serve the Storm UI under gunicorn."""

from lendstream.services.gunicorn_runner import run_gunicorn

if __name__ == "__main__":
    run_gunicorn("lendstream.storm_ui.gunicorn_conf", "lendstream.storm_ui.app:create_app()")
