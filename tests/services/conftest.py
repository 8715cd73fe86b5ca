"""Fixtures for the services: a loaded applicants database on the stack's MariaDB, the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from service_databases import ApplicantDatabase, run_loader
from service_processes import free_port, running
from service_risk import RiskService, start_risk_service

from lendstream.stack.runtime import StackEndpoints


@pytest.fixture(scope="session")
def applicant_database(
    stack_mysql: StackEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApplicantDatabase]:
    """The real LendingClub rows loaded by the loader CLI into a database of this session."""
    suffix = uuid.uuid4().hex[:8]
    secrets_dir = tmp_path_factory.mktemp("applicant-db")
    database = ApplicantDatabase(
        endpoints=stack_mysql,
        database=f"lendstream_test_{suffix}",
        reader_user=f"lsapi_{suffix}",
        reader_password_file=secrets_dir / "reader-password",
        load_summary="",
    )
    result = run_loader(database.loader_environment())
    assert result.returncode == 0, result.stderr[-3000:]
    database = ApplicantDatabase(**{**database.__dict__, "load_summary": result.stdout})
    yield database
    admin = pymysql.connect(
        host=stack_mysql.mysql_host,
        port=stack_mysql.mysql_port,
        user=stack_mysql.mysql_admin_user,
        password=stack_mysql.mysql_admin_password,
        autocommit=True,
        connect_timeout=5,
    )
    with admin, admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{database.database}`")
        cursor.execute("SELECT host FROM mysql.user WHERE user = %s", (database.reader_user,))
        for (host,) in cursor.fetchall():
            cursor.execute("DROP USER %s@%s", (database.reader_user, host))


@pytest.fixture(scope="session")
def applicant_api_url(
    applicant_database: ApplicantDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The applicant API served by gunicorn over the session's database."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("applicant-api") / "gunicorn.log"
    env = applicant_database.api_environment(port)
    with running("lendstream.services.applicant_api", env, log, f"{url}/healthz"):
        yield url


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model artifact trained by ``lendstream.model`` on the real rows (light search settings)."""
    from lendstream.model import artifact  # noqa: PLC0415 - heavy imports only when needed
    from lendstream.model.train import TrainingConfig, train  # noqa: PLC0415

    config = TrainingConfig(
        bootstrap_resamples=50, cv_folds=2, cv_repeats=1, c_grid=(0.1,), inner_folds=2
    )
    result = train(config=config)
    return artifact.save(result.pipeline, result.metadata, root=tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def risk_service(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RiskService]:
    """The risk service over the session's model, with the artifact's suggested thresholds."""
    service, context = start_risk_service(model_dir, tmp_path_factory.mktemp("risk-service"))
    with context:
        yield service
