"""Fixtures for the services: a loaded applicants database on the stack's MariaDB, the API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from local_processes import free_port
from service_databases import SYNTHETIC_LOAD, ApplicantDatabase, loaded_database
from service_processes import running
from service_risk import RiskService, start_risk_service

from lendstream.stack.runtime import StackEndpoints


@pytest.fixture(scope="session")
def applicant_database(
    stack_mysql: StackEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApplicantDatabase]:
    """The real LendingClub rows loaded by the loader CLI into a database of this session."""
    with loaded_database(stack_mysql, tmp_path_factory.mktemp("applicant-db")) as database:
        yield database


@pytest.fixture(scope="session")
def synthetic_database(
    stack_mysql: StackEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApplicantDatabase]:
    """Synthetic applicants only, a fifth of them malformed (some without a member_id)."""
    with loaded_database(
        stack_mysql, tmp_path_factory.mktemp("synthetic-db"), *SYNTHETIC_LOAD
    ) as database:
        yield database


@pytest.fixture(scope="session")
def applicant_api_url(
    applicant_database: ApplicantDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The applicant API served by gunicorn over the session's real rows."""
    with serving(applicant_database, tmp_path_factory.mktemp("applicant-api")) as url:
        yield url


@pytest.fixture(scope="session")
def synthetic_api_url(
    synthetic_database: ApplicantDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The applicant API served by gunicorn over the synthetic rows."""
    with serving(synthetic_database, tmp_path_factory.mktemp("synthetic-api")) as url:
        yield url


@contextmanager
def serving(database: ApplicantDatabase, work_dir: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = database.api_environment(port)
    with running(
        "lendstream.services.applicant_api", env, work_dir / "gunicorn.log", f"{url}/healthz"
    ):
        yield url


@pytest.fixture(scope="session")
def risk_service(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RiskService]:
    """The risk service over the session's model, with the artifact's suggested thresholds."""
    service, context = start_risk_service(model_dir, tmp_path_factory.mktemp("risk-service"))
    with context:
        yield service
