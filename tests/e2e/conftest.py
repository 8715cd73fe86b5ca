"""Fixtures of the end-to-end tests: the stack, a trained model, a risk service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lendstream.bench import risk_service
from lendstream.pipeline.scoring import RiskServiceSettings
from lendstream.stack.runtime import StackEndpoints


@pytest.fixture(scope="session")
def e2e_risk_service(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RiskServiceSettings]:
    """The risk service under gunicorn; its token lives in a file the Storm worker reads."""
    with risk_service(model_dir, tmp_path_factory.mktemp("risk-service")) as process:
        yield process.settings


@pytest.fixture(scope="session")
def e2e_stack(
    stack_kafka: StackEndpoints, stack_hbase: StackEndpoints, stack_storm: StackEndpoints
) -> StackEndpoints:
    return stack_storm
