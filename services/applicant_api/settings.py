"""The applicant API's settings, all from the environment (one home for every variable).

- ``LENDSTREAM_MYSQL_HOST`` (``127.0.0.1``), ``LENDSTREAM_MYSQL_PORT`` (``3306``): the server.
- ``LENDSTREAM_MYSQL_DATABASE`` (``lendstream``): the database holding ``applicants``.
- ``LENDSTREAM_MYSQL_USER`` (``lendstream_api``): the API's read-only user.
- ``LENDSTREAM_MYSQL_PASSWORD_FILE`` (preferred) or ``LENDSTREAM_MYSQL_PASSWORD``: its password.
  The file is read again for every new connection, so a rotated password (written there while
  MariaDB accepts both, docs/security.md "Rotation") is used from the next one on, no restart.
- ``LENDSTREAM_MYSQL_SSL_CA``: connect over TLS only, verifying the server's certificate against
  this CA file and its name against the host (unset: pymysql's default, TLS unverified if the
  server offers it, else plain TCP — the single-machine stack's loopback MariaDB).
- ``LENDSTREAM_API_BIND`` (``127.0.0.1:8080``), ``LENDSTREAM_API_WORKERS`` (``2``),
  ``LENDSTREAM_API_THREADS`` (``4``): how gunicorn serves it.
- ``LENDSTREAM_API_TLS_CERT_FILE``, ``LENDSTREAM_API_TLS_KEY_FILE``: serve HTTPS with this
  certificate and key (both or neither; unset: plain HTTP, as on the single-machine stack).
- ``LENDSTREAM_API_TOKEN_FILE`` (preferred) or ``LENDSTREAM_API_TOKEN``: bearer token(s) every
  ``/v1/`` request must present (one a line, the current first); unset: no token asked (the
  single-machine stack, on loopback). ``/healthz`` stays open and shows no applicant.
- ``PROMETHEUS_MULTIPROC_DIR``: where the workers' metrics live (default: a fresh private
  directory made by the gunicorn configuration, removed at shutdown).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lendstream.services import bearer_auth
from lendstream.services import environment as env_vars
from lendstream.services.gunicorn_runner import ServerSettings

DEFAULT_DATABASE = "lendstream"
DEFAULT_READER_USER = "lendstream_api"


@dataclass(frozen=True, slots=True)
class MySQLSettings:
    """Where the applicants live and who the API connects as."""

    host: str
    port: int
    database: str
    user: str
    password: str
    connect_timeout_s: int = 3
    read_timeout_s: int = 10
    ssl_ca: str | None = None
    password_file: str | None = None  # read again at each connection (``current_password``)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MySQLSettings:
        env = env_vars.environment() if env is None else env
        password = env_vars.secret(env, "LENDSTREAM_MYSQL_PASSWORD")
        assert password is not None  # required=True raises instead
        return cls(
            host=env_vars.text(env, "LENDSTREAM_MYSQL_HOST", "127.0.0.1"),
            port=env_vars.integer(env, "LENDSTREAM_MYSQL_PORT", 3306, minimum=1, maximum=65535),
            database=env_vars.text(env, "LENDSTREAM_MYSQL_DATABASE", DEFAULT_DATABASE),
            user=env_vars.text(env, "LENDSTREAM_MYSQL_USER", DEFAULT_READER_USER),
            ssl_ca=env.get("LENDSTREAM_MYSQL_SSL_CA") or None,
            password=password,
            password_file=env.get("LENDSTREAM_MYSQL_PASSWORD_FILE", "").strip() or None,
        )

    def current_password(self) -> str:
        """The password for a new connection: the file's content now when there is a file."""
        if not self.password_file:
            return self.password
        value = env_vars.secret(
            {"LENDSTREAM_MYSQL_PASSWORD_FILE": self.password_file}, "LENDSTREAM_MYSQL_PASSWORD"
        )
        assert value is not None  # required=True raises instead
        return value


def tls_arguments(ca_file: str | None) -> dict[str, Any]:
    """pymysql's TLS arguments that require TLS and verify the server's certificate against
    ``ca_file`` and its name against the host connected to (``ssl_ca`` alone verifies nothing).
    Without a CA: none (pymysql then tries TLS unverified and falls back to plain TCP)."""
    if not ca_file:
        return {}
    return {"ssl_ca": ca_file, "ssl_verify_cert": True, "ssl_verify_identity": True}


def api_tokens(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The bearer tokens the API accepts (LENDSTREAM_API_TOKEN(_FILE)); empty: none asked."""
    env = env_vars.environment() if env is None else env
    secret = env_vars.secret(env, "LENDSTREAM_API_TOKEN", required=False)
    if secret is None:
        return ()
    tokens = bearer_auth.tokens_from_secret(secret)
    if not tokens:
        raise env_vars.SettingsError("LENDSTREAM_API_TOKEN(_FILE) holds no token")
    return tokens


SERVER_DEFAULTS = ServerSettings(bind="127.0.0.1:8080", workers=2, threads=4)


def server_settings(env: Mapping[str, str] | None = None) -> ServerSettings:
    """How gunicorn serves the API (LENDSTREAM_API_BIND, _WORKERS, _THREADS)."""
    return ServerSettings.from_env("LENDSTREAM_API", SERVER_DEFAULTS, env)
