"""The risk service's settings, all from the environment (one home for every variable).

- ``LENDSTREAM_MODEL_DIR``: the model artifact to serve (default: ``current`` under
  ``lendstream.model.artifact.default_model_root()``, i.e. ``.cache/model/current``).
- ``LENDSTREAM_RISK_TOKEN_FILE`` (preferred) or ``LENDSTREAM_RISK_TOKEN``: the bearer token
  clients must send; the service refuses to start without one. Several lines are several
  accepted tokens, the current one first: a rotation accepts the new token beside the old one.
- ``LENDSTREAM_RISK_REVIEW_AT``, ``LENDSTREAM_RISK_DECLINE_AT``: probability-of-default thresholds
  (review from the first, decline from the second); default: the artifact's suggested thresholds.
- ``LENDSTREAM_RISK_BIND`` (``127.0.0.1:8090``), ``LENDSTREAM_RISK_WORKERS`` (``2``),
  ``LENDSTREAM_RISK_THREADS`` (``2``): how gunicorn serves it.
- ``LENDSTREAM_RISK_TLS_CERT_FILE``, ``LENDSTREAM_RISK_TLS_KEY_FILE``: serve HTTPS with this
  certificate and key (both or neither; unset: plain HTTP).
- ``PROMETHEUS_MULTIPROC_DIR``: where the workers' metrics live (default: a fresh private
  directory made by the gunicorn configuration, removed at shutdown).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lendstream.services import bearer_auth
from lendstream.services import environment as env_vars
from lendstream.services.gunicorn_runner import ServerSettings


@dataclass(frozen=True, slots=True)
class ThresholdOverrides:
    """Thresholds set in the environment; ``None`` means "use the artifact's"."""

    review_at: float | None
    decline_at: float | None


@dataclass(frozen=True, slots=True)
class RiskSettings:
    """What the app needs: the model, the token and the decision thresholds."""

    model_dir: Path | None
    tokens: tuple[str, ...]  # accepted bearer tokens, the current one first
    thresholds: ThresholdOverrides

    @property
    def token(self) -> str:
        """The current token (what a client of this deployment sends)."""
        return self.tokens[0]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RiskSettings:
        env = env_vars.environment() if env is None else env
        secret = env_vars.secret(env, "LENDSTREAM_RISK_TOKEN")
        assert secret is not None  # required=True raises instead
        tokens = bearer_auth.tokens_from_secret(secret)
        if not tokens:
            raise env_vars.SettingsError("LENDSTREAM_RISK_TOKEN(_FILE) holds no token")
        model_dir = env_vars.text(env, "LENDSTREAM_MODEL_DIR", "")
        return cls(
            model_dir=Path(model_dir) if model_dir else None,
            tokens=tokens,
            thresholds=ThresholdOverrides(
                review_at=_probability(env, "LENDSTREAM_RISK_REVIEW_AT"),
                decline_at=_probability(env, "LENDSTREAM_RISK_DECLINE_AT"),
            ),
        )


SERVER_DEFAULTS = ServerSettings(bind="127.0.0.1:8090", workers=2, threads=2)


def server_settings(env: Mapping[str, str] | None = None) -> ServerSettings:
    """How gunicorn serves the risk service (LENDSTREAM_RISK_BIND, _WORKERS, _THREADS)."""
    return ServerSettings.from_env("LENDSTREAM_RISK", SERVER_DEFAULTS, env)


def _probability(env: Mapping[str, str], name: str) -> float | None:
    if not env.get(name, "").strip():
        return None
    return env_vars.number(env, name, 0.0, minimum=0.0, maximum=1.0)
