"""Starting the risk service under gunicorn in tests, over a given model artifact."""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_processes import clean_environment, free_port
from service_processes import running


@dataclass(frozen=True)
class RiskService:
    url: str
    token: str


def start_risk_service(
    model_dir: Path, work_dir: Path, extra: dict[str, str] | None = None
) -> tuple[RiskService, AbstractContextManager[Any]]:
    """A risk service under gunicorn (2 workers) with a fresh token; enter the context to run it."""
    token = secrets.token_urlsafe(24)
    token_file = work_dir / "risk-token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    port = free_port()
    env = clean_environment(
        {
            "LENDSTREAM_MODEL_DIR": str(model_dir),
            "LENDSTREAM_RISK_TOKEN_FILE": str(token_file),
            "LENDSTREAM_RISK_BIND": f"127.0.0.1:{port}",
            "LENDSTREAM_RISK_WORKERS": "2",
            **(extra or {}),
        }
    )
    url = f"http://127.0.0.1:{port}"
    context = running(
        "lendstream.services.risk_service", env, work_dir / "gunicorn.log", f"{url}/healthz"
    )
    return RiskService(url=url, token=token), context
