"""The loader and the applicant API against the stack's real MariaDB, the API under gunicorn."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pymysql
import pytest
import requests
from local_processes import free_port
from prometheus_samples import scrape, value
from service_databases import SYNTHETIC_LOAD, ApplicantDatabase, run_loader
from service_processes import running

from lendstream.pipeline.record import RAW_FIELDS

pytestmark = pytest.mark.mysql

REAL_ROWS = 9857


def _count(database: ApplicantDatabase) -> int:
    with database.admin_connection() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM applicants")
        return int(cursor.fetchone()[0])


def test_loader_loads_every_real_row(applicant_database: ApplicantDatabase) -> None:
    summary = json.loads(applicant_database.load_summary)
    assert summary["real"]["read"] == REAL_ROWS
    assert summary["table_rows"] == REAL_ROWS
    assert _count(applicant_database) == REAL_ROWS


def test_schema_has_id_unique_member_id_and_one_nullable_text_column_per_raw_field(
    applicant_database: ApplicantDatabase,
) -> None:
    with applicant_database.admin_connection() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, is_nullable, column_key, extra"
            " FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = 'applicants'",
            (applicant_database.database,),
        )
        columns = {row[0]: row[1:] for row in cursor.fetchall()}
    assert columns["id"][0] == "bigint"
    assert columns["id"][2] == "PRI"
    assert "auto_increment" in columns["id"][3]
    assert columns["member_id"][2] == "UNI"
    for field in RAW_FIELDS:
        data_type, nullable, _, _ = columns[field]
        assert data_type in {"varchar", "text"}, field
        assert nullable == "YES", field


def test_rerun_is_idempotent(applicant_database: ApplicantDatabase) -> None:
    result = run_loader(applicant_database.loader_environment())
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["real"]["inserted"] == 0
    assert summary["real"]["already_present"] == REAL_ROWS
    assert _count(applicant_database) == REAL_ROWS


def test_password_file_is_private(applicant_database: ApplicantDatabase) -> None:
    assert applicant_database.reader_password_file.stat().st_mode & 0o777 == 0o600


def test_reader_can_select_but_not_write(applicant_database: ApplicantDatabase) -> None:
    password = applicant_database.reader_password_file.read_text().strip()
    reader = pymysql.connect(
        host=applicant_database.endpoints.mysql_host,
        port=applicant_database.endpoints.mysql_port,
        user=applicant_database.reader_user,
        password=password,
        database=applicant_database.database,
        connect_timeout=5,
    )
    with reader, reader.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM applicants")
        assert cursor.fetchone()[0] == REAL_ROWS
        for statement in (
            "INSERT INTO applicants (member_id, record_digest) VALUES ('x', 'y')",
            "UPDATE applicants SET grade = 'A' WHERE id = 1",
            "DELETE FROM applicants WHERE id = 1",
            "CREATE TABLE sneaky (id INT)",
        ):
            with pytest.raises(pymysql.err.OperationalError, match="denied"):
                cursor.execute(statement)


def test_pagination_walks_every_row_exactly_once(applicant_api_url: str) -> None:
    seen: list[int] = []
    after: int | None = 0
    pages = 0
    started = time.perf_counter()
    while after is not None and pages < 200:
        answer = requests.get(
            f"{applicant_api_url}/v1/applicants", params={"after": after, "limit": 1000}, timeout=10
        )
        assert answer.status_code == 200
        body = answer.json()
        seen.extend(applicant["id"] for applicant in body["applicants"])
        after = body["next_after"]
        pages += 1
    elapsed = time.perf_counter() - started
    print(f"walked {len(seen)} applicants in {pages} pages: {pages / elapsed:.1f} pages/s")
    assert len(seen) == REAL_ROWS
    assert len(set(seen)) == REAL_ROWS
    assert seen == sorted(seen)


def test_benchmark_pages_of_100(applicant_api_url: str) -> None:
    """Prints pages/s for the default page size, one client (figures for the report)."""
    session = requests.Session()
    after: int | None = 0
    pages = 0
    started = time.perf_counter()
    while after is not None and pages < 200:
        answer = session.get(
            f"{applicant_api_url}/v1/applicants", params={"after": after}, timeout=10
        )
        assert answer.status_code == 200
        after = answer.json()["next_after"]
        pages += 1
    elapsed = time.perf_counter() - started
    print(f"applicant API: {pages / elapsed:.0f} pages/s of 100 ({pages} pages, one client)")
    assert after is None


def test_default_page_is_100_raw_records_with_their_id(applicant_api_url: str) -> None:
    body = requests.get(f"{applicant_api_url}/v1/applicants", timeout=10).json()
    assert len(body["applicants"]) == 100
    first = body["applicants"][0]
    assert set(first) == {"id", *RAW_FIELDS}
    assert first["term"] in {" 36 months", " 60 months"}
    assert first["int_rate"].endswith("%")
    assert body["next_after"] == body["applicants"][-1]["id"]


def test_one_applicant_by_id_matches_the_listing(applicant_api_url: str) -> None:
    listed = requests.get(f"{applicant_api_url}/v1/applicants?limit=3", timeout=10).json()
    third = listed["applicants"][2]
    answer = requests.get(f"{applicant_api_url}/v1/applicants/{third['id']}", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == third


def test_unknown_id_is_404(applicant_api_url: str) -> None:
    answer = requests.get(f"{applicant_api_url}/v1/applicants/999999999", timeout=10)
    assert answer.status_code == 404
    assert "999999999" in answer.json()["error"]


@pytest.mark.parametrize(
    ("path", "expected_words"),
    [
        ("/v1/applicants?limit=0", "limit"),
        ("/v1/applicants?limit=1001", "limit"),
        ("/v1/applicants?limit=ten", "limit"),
        ("/v1/applicants?after=-1", "after"),
        ("/v1/applicants?after=1.5", "after"),
        ("/v1/applicants?after=99999999999999999999999", "after"),
        ("/v1/applicants?cursor=3", "unknown parameter"),
        ("/v1/applicants/abc", "id"),
        ("/v1/applicants/0", "id"),
    ],
)
def test_bad_parameters_are_400_with_a_message(
    applicant_api_url: str, path: str, expected_words: str
) -> None:
    answer = requests.get(f"{applicant_api_url}{path}", timeout=10)
    assert answer.status_code == 400
    assert expected_words in answer.json()["error"]


def test_health_checks_the_database(applicant_api_url: str) -> None:
    answer = requests.get(f"{applicant_api_url}/healthz", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_database_down_is_503_never_500(
    applicant_database: ApplicantDatabase, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = applicant_database.api_environment(port)
    env["LENDSTREAM_MYSQL_PORT"] = str(free_port())  # nothing listens there
    with running("lendstream.services.applicant_api", env, tmp_path / "api.log", f"{url}/healthz"):
        for path in ("/healthz", "/v1/applicants", "/v1/applicants/1"):
            answer = requests.get(f"{url}{path}", timeout=20)
            assert answer.status_code == 503, path
            assert "unavailable" in answer.json()["error"]


def _synthetic_expectation() -> tuple[int, int]:
    """Rows and blank-member_id rows that the synthetic load of the fixture must give."""
    from lendstream.model.synthetic import generate_labelled  # noqa: PLC0415

    arguments = dict(zip(SYNTHETIC_LOAD[1::2], SYNTHETIC_LOAD[2::2], strict=True))
    generated = list(
        generate_labelled(
            int(arguments["--synthetic"]),
            seed=int(arguments["--seed"]),
            malformed_rate=float(arguments["--malformed-rate"]),
        )
    )
    blank = sum(1 for item in generated if not (item.record.get("member_id") or "").strip())
    return len(generated), blank


def test_synthetic_rows_are_all_stored_even_without_a_member_id(
    synthetic_database: ApplicantDatabase,
) -> None:
    rows, blank_member_ids = _synthetic_expectation()
    assert blank_member_ids > 10
    assert json.loads(synthetic_database.load_summary)["table_rows"] == rows
    with synthetic_database.admin_connection() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM applicants WHERE member_id IS NULL")
        assert cursor.fetchone()[0] == blank_member_ids
        cursor.execute("SELECT COUNT(*) FROM applicants WHERE term = ' 48 months'")
        assert cursor.fetchone()[0] > 0  # malformed values are kept as the raw strings they are

    rerun = run_loader(synthetic_database.loader_environment(), *SYNTHETIC_LOAD)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    summary = json.loads(rerun.stdout)
    assert summary["synthetic"]["inserted"] == 0
    assert summary["table_rows"] == rows


def test_loader_reports_a_refused_admin_login_without_a_traceback(
    applicant_database: ApplicantDatabase, tmp_path: Path
) -> None:
    env = applicant_database.loader_environment()
    env["LENDSTREAM_MYSQL_ADMIN_PASSWORD"] = "not-the-password"
    env["LENDSTREAM_MYSQL_PASSWORD_FILE"] = str(tmp_path / "never-written")
    result = run_loader(env, "--skip-real")
    assert result.returncode == 2
    assert "Access denied" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "never-written").exists()


def test_metrics_count_requests_by_route_and_status_across_workers(applicant_api_url: str) -> None:
    metrics_url = f"{applicant_api_url}/metrics"
    listing, one = "/v1/applicants", "/v1/applicants/<applicant_id>"
    before = scrape(metrics_url)
    rounds = 20  # two workers: with several requests both serve some
    for _ in range(rounds):
        assert requests.get(f"{applicant_api_url}/v1/applicants?limit=5", timeout=10).ok
    for _ in range(3):
        bad = requests.get(f"{applicant_api_url}/v1/applicants?limit=zero", timeout=10)
        assert bad.status_code == 400
    missing = requests.get(f"{applicant_api_url}/v1/applicants/{2**62}", timeout=10)
    assert missing.status_code == 404
    after = scrape(metrics_url)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests_total = "lendstream_api_requests_total"
    assert grew(requests_total, route=listing, status="200") == rounds
    assert grew(requests_total, route=listing, status="400") == 3
    assert grew(requests_total, route=one, status="404") == 1
    latency_count = "lendstream_api_request_duration_seconds_count"
    assert grew(latency_count, route=listing) == rounds + 3
    assert grew(latency_count, route=one) == 1
    # the scrape itself is counted too, by its route
    assert grew(requests_total, route="/metrics", status="200") >= 1
