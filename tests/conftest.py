"""Session fixtures: the parts of the single-machine stack a test needs, a trained model, and the
simulated layout the cluster-level suites share.

Each stack fixture starts what is missing (`lendstream.stack.runtime.ensure_up`) and, at session
end, stops only what it started itself — unless `LENDSTREAM_KEEP_STACK=1`, which leaves it running.

`simulated_layout` boots the layout (LENDSTREAM_DEPLOY_LAYOUT, default ci) from bare nodes once:
the node tests (tests/vcluster) run on it first, then tests/cluster deploys it. Its tests run
before every other (pytest_collection_modifyitems) and it is torn down, checked clean, as soon as
the last of them ends, so the rest of the session has the machine to itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lendstream.cluster import Layout, load_cluster
from lendstream.stack import runtime
from lendstream.stack.components import with_dependencies
from lendstream.stack.runtime import StackEndpoints
from lendstream.vcluster import lifecycle, nodes

SIMULATED_LAYOUT = os.environ.get("LENDSTREAM_DEPLOY_LAYOUT", "ci")
LAYOUT_FIXTURE = "simulated_layout"
_booted_layouts: list[Layout] = []


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


@pytest.fixture(scope="session")
def simulated_layout() -> Iterator[Layout]:
    """The simulated layout, booted from bare nodes; refuses to touch one already running."""
    layout = load_cluster().layout(SIMULATED_LAYOUT)
    running = [n.name for n in layout.nodes if nodes.launcher_pid(layout, n) is not None]
    if running:
        pytest.fail(
            f"layout {layout.name} is already running ({', '.join(running)}), perhaps someone's "
            f"deployment; the tests boot it from bare nodes and tear it down, so stop it first: "
            f"python -m lendstream.vcluster down --layout {layout.name}"
        )
    _booted_layouts.append(layout)
    lifecycle.up(layout)
    yield layout
    _tear_down_layouts()


def _tear_down_layouts() -> None:
    while _booted_layouts:
        layout = _booted_layouts.pop()
        lifecycle.down(layout)
        leftovers = lifecycle.leftovers_of(layout)
        assert not leftovers, f"teardown of {layout.name} left: {leftovers}"


def _uses_layout(item: pytest.Item | None) -> bool:
    return item is not None and LAYOUT_FIXTURE in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The simulated layout's tests first: the node tests (which take it down and up again),
    then the deployment's."""

    def rank(item: pytest.Item) -> int:
        if not _uses_layout(item):
            return 2
        return 0 if "vcluster" in item.path.parts else 1

    items.sort(key=rank)


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Down with the layout once its last test has run."""
    if _booted_layouts and _uses_layout(item) and not _uses_layout(nextitem):
        _tear_down_layouts()
