"""The Storm UI's settings, all from the environment (one home for every variable).

- ``LENDSTREAM_STORM_UI_NIMBUS_SEEDS``: comma-separated ``host:port`` of the nimbus hosts
  (default ``127.0.0.1:6627``); the UI asks the first reachable one for the leader and reads
  from the leader.
- ``LENDSTREAM_STORM_UI_THRIFT_TIMEOUT_MS`` (``5000``): connect and read timeout of each
  Thrift call to nimbus.
- ``LENDSTREAM_STORM_UI_METRICS_TIMEOUT_MS`` (``2000``): the same for ``/metrics``, shorter so
  that a scrape answers within Prometheus's scrape timeout (10 s) even when seeds do not answer.
- ``LENDSTREAM_STORM_UI_BIND`` (``127.0.0.1:8080``), ``LENDSTREAM_STORM_UI_WORKERS`` (``1``),
  ``LENDSTREAM_STORM_UI_THREADS`` (``4``): how gunicorn serves it (``--bind`` on the command
  line overrides the first). ``LENDSTREAM_STORM_UI_TLS_CERT_FILE`` and ``_TLS_KEY_FILE``: HTTPS
  with this certificate and key, as the web services (both or neither; unset: plain HTTP).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lendstream.services import environment as env_vars
from lendstream.services.environment import SettingsError
from lendstream.services.gunicorn_runner import ServerSettings
from lendstream.storm.nimbus import NimbusAddress

DEFAULT_NIMBUS_SEEDS = "127.0.0.1:6627"
DEFAULT_METRICS_TIMEOUT_MS = 2000


@dataclass(frozen=True, slots=True)
class UiSettings:
    """Where nimbus is and how long to wait for it."""

    nimbus_seeds: tuple[NimbusAddress, ...]
    thrift_timeout_ms: int
    metrics_timeout_ms: int = DEFAULT_METRICS_TIMEOUT_MS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> UiSettings:
        env = env_vars.environment() if env is None else env
        variable = "LENDSTREAM_STORM_UI_NIMBUS_SEEDS"
        raw_seeds = env_vars.text(env, variable, DEFAULT_NIMBUS_SEEDS)
        try:
            entries = [item for item in raw_seeds.split(",") if item.strip()]
            seeds = tuple(NimbusAddress.parse(item) for item in entries)
        except ValueError as error:
            raise SettingsError(f"{variable}: {error}") from error
        if not seeds:
            raise SettingsError(f"{variable} names no nimbus host")
        return cls(
            nimbus_seeds=seeds,
            thrift_timeout_ms=env_vars.integer(
                env, "LENDSTREAM_STORM_UI_THRIFT_TIMEOUT_MS", 5000, minimum=100, maximum=120_000
            ),
            metrics_timeout_ms=env_vars.integer(
                env,
                "LENDSTREAM_STORM_UI_METRICS_TIMEOUT_MS",
                DEFAULT_METRICS_TIMEOUT_MS,
                minimum=100,
                maximum=120_000,
            ),
        )


SERVER_DEFAULTS = ServerSettings(bind="127.0.0.1:8080", workers=1, threads=4)


def server_settings(env: Mapping[str, str] | None = None) -> ServerSettings:
    """How gunicorn serves the UI (LENDSTREAM_STORM_UI_BIND, _WORKERS, _THREADS)."""
    return ServerSettings.from_env("LENDSTREAM_STORM_UI", SERVER_DEFAULTS, env)
