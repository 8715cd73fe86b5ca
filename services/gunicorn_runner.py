"""Start gunicorn on one of the services: its config module and its app factory."""

from __future__ import annotations

import os
import sys


def run_gunicorn(config_module: str, app_factory: str) -> None:
    """Replace this process with gunicorn (so signals reach its master directly).

    Extra command-line arguments are passed on to gunicorn (e.g. ``--bind``).
    """
    arguments = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        f"python:{config_module}",
        *sys.argv[1:],
        app_factory,
    ]
    os.execv(sys.executable, arguments)
