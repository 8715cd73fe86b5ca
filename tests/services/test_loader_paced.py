"""The loader's steady mode (the fault suite's load) on the stack's real MariaDB: it keeps its rate
and rides out connections the server drops, inserting every row exactly once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_databases import ApplicantDatabase, loaded_database, run_loader

from lendstream.model.synthetic import generate
from lendstream.services.applicant_api.loader import load_records_paced
from lendstream.stack.runtime import StackEndpoints

pytestmark = pytest.mark.mysql


@pytest.fixture
def empty_database(stack_mysql: StackEndpoints, tmp_path: Path) -> Iterator[ApplicantDatabase]:
    with loaded_database(stack_mysql, tmp_path, "--skip-real") as database:
        yield database


def row_count(database: ApplicantDatabase) -> int:
    with database.admin_connection() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM applicants")
        return int(cursor.fetchone()[0])


def test_the_cli_inserts_at_the_rate_it_is_given(empty_database: ApplicantDatabase) -> None:
    started = time.monotonic()
    result = run_loader(
        empty_database.loader_environment(),
        *("--skip-real", "--synthetic", "600", "--seed", "3", "--rate", "300"),
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"inserted": 600' in result.stdout
    assert row_count(empty_database) == 600
    # 600 rows at 300/s cannot take less than about 2 s (the first batch goes at once).
    assert elapsed >= 1.7, f"600 rows at 300/s took only {elapsed:.2f} s"


def test_dropped_connections_are_retried_and_every_row_lands_once(
    empty_database: ApplicantDatabase,
) -> None:
    records = list(generate(1000, seed=4))
    outcome: dict[str, object] = {}

    def load() -> None:
        outcome["counts"] = load_records_paced(
            empty_database.admin_connection, records, rate_per_s=250, retry_timeout_s=30
        )

    loader = threading.Thread(target=load)
    loader.start()
    killed = 0
    with empty_database.admin_connection() as admin, admin.cursor() as cursor:
        for _ in range(3):  # drop the loader's connection three times while it loads
            time.sleep(0.9)
            cursor.execute(
                "SELECT id FROM information_schema.processlist WHERE db = %s AND id != "
                "CONNECTION_ID()",
                (empty_database.database,),
            )
            for (connection_id,) in cursor.fetchall():
                cursor.execute(f"KILL CONNECTION {int(connection_id)}")
                killed += 1
    loader.join(timeout=60)
    assert not loader.is_alive()
    assert killed >= 2
    counts = outcome["counts"]
    assert counts.read == 1000  # type: ignore[attr-defined]
    assert counts.inserted + counts.already_present == 1000  # type: ignore[attr-defined]
    assert row_count(empty_database) == 1000
