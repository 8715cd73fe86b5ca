"""Start gunicorn on one of the services: its config module and its app factory."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from lendstream.services import environment as env_vars


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How gunicorn serves a service: ``<prefix>_BIND``, ``_WORKERS`` and ``_THREADS``; HTTPS
    when ``<prefix>_TLS_CERT_FILE`` and ``<prefix>_TLS_KEY_FILE`` name the host's certificate and
    key (both or neither; unset: plain HTTP, as on the single-machine stack)."""

    bind: str
    workers: int
    threads: int
    certfile: str | None = None
    keyfile: str | None = None

    @classmethod
    def from_env(
        cls, prefix: str, defaults: ServerSettings, env: Mapping[str, str] | None = None
    ) -> ServerSettings:
        env = env_vars.environment() if env is None else env
        certfile = env_vars.text(env, f"{prefix}_TLS_CERT_FILE", "") or None
        keyfile = env_vars.text(env, f"{prefix}_TLS_KEY_FILE", "") or None
        if (certfile is None) != (keyfile is None):
            raise env_vars.SettingsError(
                f"set both {prefix}_TLS_CERT_FILE and {prefix}_TLS_KEY_FILE (HTTPS), or neither"
            )
        return cls(
            bind=env_vars.text(env, f"{prefix}_BIND", defaults.bind),
            workers=env_vars.integer(
                env, f"{prefix}_WORKERS", defaults.workers, minimum=1, maximum=64
            ),
            threads=env_vars.integer(
                env, f"{prefix}_THREADS", defaults.threads, minimum=1, maximum=64
            ),
            certfile=certfile,
            keyfile=keyfile,
        )


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
