"""Session fixtures: the parts of the single-machine stack a test needs, and a trained model.

Each fixture starts what is missing (`lendstream.stack.runtime.ensure_up`) and, at session end,
stops only what it started itself — unless `LENDSTREAM_KEEP_STACK=1`, which leaves it running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lendstream.stack import runtime
from lendstream.stack.components import with_dependencies
from lendstream.stack.runtime import StackEndpoints


def _keep_stack() -> bool:
    return os.environ.get("LENDSTREAM_KEEP_STACK", "") == "1"


def _stack_session(*components: str) -> Iterator[StackEndpoints]:
    already_healthy = runtime.healthy_components()
    started_here = [
        name for name in with_dependencies(list(components)) if name not in already_healthy
    ]
    try:
        endpoints = runtime.ensure_up(*components)
    except runtime.StackError:
        # Leave nothing half-started behind (the error names the component and its log tail).
        if not _keep_stack():
            runtime.stop(*started_here)
        raise
    yield endpoints
    if started_here and not _keep_stack():
        runtime.stop(*started_here)


@pytest.fixture(scope="session")
def stack_mysql() -> Iterator[StackEndpoints]:
    """The private MariaDB; endpoints carry the admin connection."""
    yield from _stack_session("mysql")


@pytest.fixture(scope="session")
def stack_kafka() -> Iterator[StackEndpoints]:
    """Kafka (KRaft) with the applicant and dead-letter topics."""
    yield from _stack_session("kafka")


@pytest.fixture(scope="session")
def stack_hbase() -> Iterator[StackEndpoints]:
    """HBase (master, region server, Thrift on 9090) with the `members` table; needs ZooKeeper."""
    yield from _stack_session("hbase")


@pytest.fixture(scope="session")
def stack_storm() -> Iterator[StackEndpoints]:
    """Storm nimbus, supervisor and UI; needs ZooKeeper."""
    yield from _stack_session("storm")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model artifact trained once per session on the real rows, with light search settings:
    what the risk services of the service and end-to-end tests serve."""
    from lendstream.model import artifact  # noqa: PLC0415 - heavy imports only when needed
    from lendstream.model.train import TrainingConfig, train  # noqa: PLC0415

    config = TrainingConfig(
        bootstrap_resamples=50, cv_folds=2, cv_repeats=1, c_grid=(0.1,), inner_folds=2
    )
    result = train(config=config)
    return artifact.save(result.pipeline, result.metadata, root=tmp_path_factory.mktemp("model"))
