"""Fixtures of the end-to-end tests: the stack, a trained model, a risk service, Storm."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lendstream.pipeline.scoring import RiskServiceSettings
from lendstream.stack.runtime import StackEndpoints

START_TIMEOUT_S = 90.0


@pytest.fixture(scope="session")
def e2e_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model artifact trained on the real rows with light search settings."""
    from lendstream.model import artifact  # noqa: PLC0415 - heavy imports only when needed
    from lendstream.model.train import TrainingConfig, train  # noqa: PLC0415

    config = TrainingConfig(
        bootstrap_resamples=50, cv_folds=2, cv_repeats=1, c_grid=(0.1,), inner_folds=2
    )
    result = train(config=config)
    return artifact.save(result.pipeline, result.metadata, root=tmp_path_factory.mktemp("model"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def e2e_risk_service(
    e2e_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RiskServiceSettings]:
    """The risk service under gunicorn; its token lives in a file the Storm worker reads."""
    work = tmp_path_factory.mktemp("risk-service")
    token_file = work / "risk-token"
    token_file.write_text(secrets.token_urlsafe(24) + "\n")
    token_file.chmod(0o600)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENDSTREAM_")}
    env |= {
        "LENDSTREAM_MODEL_DIR": str(e2e_model_dir),
        "LENDSTREAM_RISK_TOKEN_FILE": str(token_file),
        "LENDSTREAM_RISK_BIND": f"127.0.0.1:{port}",
        "LENDSTREAM_RISK_WORKERS": "2",
    }
    url = f"http://127.0.0.1:{port}"
    log_path = work / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "lendstream.services.risk_service"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"risk service exited: {log_path.read_text()[-2000:]}"
            assert time.monotonic() < deadline, (
                f"risk service silent: {log_path.read_text()[-2000:]}"
            )
            try:
                requests.get(f"{url}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.3)
        yield RiskServiceSettings.from_token_file(url, token_file)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(20)


@pytest.fixture(scope="session")
def e2e_stack(
    stack_kafka: StackEndpoints, stack_hbase: StackEndpoints, stack_storm: StackEndpoints
) -> StackEndpoints:
    return stack_storm
