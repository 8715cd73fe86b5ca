"""Fixtures of the end-to-end tests: the stack, a trained model, a risk service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lendstream.bench import risk_service
from lendstream.pipeline.scoring import RiskServiceSettings
from lendstream.stack.runtime import StackEndpoints


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


@pytest.fixture(scope="session")
def e2e_risk_service(
    e2e_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RiskServiceSettings]:
    """The risk service under gunicorn; its token lives in a file the Storm worker reads."""
    with risk_service(e2e_model_dir, tmp_path_factory.mktemp("risk-service")) as process:
        yield process.settings


@pytest.fixture(scope="session")
def e2e_stack(
    stack_kafka: StackEndpoints, stack_hbase: StackEndpoints, stack_storm: StackEndpoints
) -> StackEndpoints:
    return stack_storm
