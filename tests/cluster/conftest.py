"""The deployment every cluster-level suite of this directory shares: the session's simulated
layout (tests/conftest.py, booted from bare nodes and torn down after its last test) with fresh
secrets; site.yml runs once, whichever module asks first (deployment.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from deployment import ANSIBLE_DIR, BIN_DIR, FIGURES, LOG_DIR, Cluster

from lendstream import secrets
from lendstream.chaos.cluster import ChaosCluster
from lendstream.cluster import Layout
from lendstream.stack.artifacts import bundle_path
from lendstream.vcluster.paths import layout_state_dir


@pytest.fixture(scope="session")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two light models of different versions (their training settings differ)."""
    from lendstream.model import artifact  # noqa: PLC0415 - heavy imports only when needed
    from lendstream.model.train import TrainingConfig, train  # noqa: PLC0415

    made = []
    for c_value in (0.1, 1.0):
        config = TrainingConfig(
            bootstrap_resamples=50, cv_folds=2, cv_repeats=1, c_grid=(c_value,), inner_folds=2
        )
        result = train(config=config)
        root = tmp_path_factory.mktemp(f"model-c{c_value}")
        made.append(artifact.save(result.pipeline, result.metadata, root=root))
    return made[0], made[1]


@pytest.fixture(scope="session")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    two_models: tuple[Path, Path],
    simulated_layout: Layout,
) -> Iterator[Cluster]:
    layout = simulated_layout
    for bundle in ("zookeeper", "hadoop", "hbase", "kafka", "storm"):
        bundle_path(bundle)  # built once on the controller, pushed by the artifacts role
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    inventory_dir = layout_state_dir(layout.name)
    password_file = tmp_path_factory.mktemp("vault") / "vault.pass"
    try:
        secrets.new_secrets(inventory_dir, password_file)
        environment = dict(
            os.environ,
            PATH=f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
            ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
            ANSIBLE_VAULT_PASSWORD_FILE=str(password_file),
            # Each task's duration, and the slowest ones at the end of every run.
            ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
            NO_COLOR="1",
        )
        yield Cluster(
            layout=layout,
            environment=environment,
            token=secrets.read_vault(inventory_dir, password_file)["vault_risk_service_token"],
            groups={group: tuple(hosts) for group, hosts in layout.groups().items()},
            addresses={node.name: str(node.address) for node in layout.nodes},
            first_model=two_models[0],
            second_model=two_models[1],
            chaos=ChaosCluster(layout=layout, vault_password_file=password_file),
        )
    finally:
        secrets.vault_file(inventory_dir).unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The suites' figures (deploy and rerun times, each fault's recovery and alerts, the attack
    table) in every run's summary, passed or failed: CI keeps no other record of a slow pass."""
    if FIGURES:
        terminalreporter.write_sep("=", "cluster figures")
        for name, figure in FIGURES.items():
            terminalreporter.write_line(f"{name}: {figure}")
