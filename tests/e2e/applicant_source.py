"""The real front of the pipeline for the end-to-end test: MariaDB → applicant API → producer.

The loader CLI fills a private database with synthetic applicants (some malformed), the applicant
API serves it under gunicorn, and the producer publishes it to the run's topic until the API has
no more. Everything is a real process of the services' own code.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pymysql
import requests
from local_processes import clean_environment, free_port, running, wait_until

from lendstream.stack.runtime import StackEndpoints

START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class ApplicantSource:
    api_url: str
    rows: int  # applicants stored in MySQL


def _admin(endpoints: StackEndpoints) -> pymysql.Connection:
    return pymysql.connect(
        host=endpoints.mysql_host,
        port=endpoints.mysql_port,
        user=endpoints.mysql_admin_user,
        password=endpoints.mysql_admin_password,
        autocommit=True,
        connect_timeout=5,
    )


@contextmanager
def applicant_source(
    endpoints: StackEndpoints, work: Path, synthetic: int, seed: int, malformed_rate: float
) -> Iterator[ApplicantSource]:
    suffix = uuid.uuid4().hex[:8]
    database, reader = f"lendstream_e2e_{suffix}", f"lse2e_{suffix}"
    mysql = {
        "LENDSTREAM_MYSQL_HOST": endpoints.mysql_host,
        "LENDSTREAM_MYSQL_PORT": str(endpoints.mysql_port),
        "LENDSTREAM_MYSQL_DATABASE": database,
        "LENDSTREAM_MYSQL_USER": reader,
        "LENDSTREAM_MYSQL_PASSWORD_FILE": str(work / "reader-password"),
    }
    admin = {
        "LENDSTREAM_MYSQL_ADMIN_USER": endpoints.mysql_admin_user,
        "LENDSTREAM_MYSQL_ADMIN_PASSWORD": endpoints.mysql_admin_password,
    }
    try:
        arguments = ["--skip-real", "--synthetic", str(synthetic), "--seed", str(seed)]
        arguments += ["--malformed-rate", str(malformed_rate)]
        loaded = subprocess.run(
            [sys.executable, "-m", "lendstream.services.applicant_api.loader", *arguments],
            env=clean_environment(mysql | admin),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        with _admin(endpoints) as connection, connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM `{database}`.applicants")
            (rows,) = cursor.fetchone()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = mysql | {"LENDSTREAM_API_BIND": f"127.0.0.1:{port}", "LENDSTREAM_API_WORKERS": "2"}
        with _serving("lendstream.services.applicant_api", env, work / "api.log", url):
            yield ApplicantSource(url, int(rows))
    finally:
        with _admin(endpoints) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cursor.execute("SELECT host FROM mysql.user WHERE user = %s", (reader,))
            for (host,) in cursor.fetchall():
                cursor.execute("DROP USER %s@%s", (reader, host))


@contextmanager
def _serving(module: str, env: dict[str, str], log_path: Path, url: str) -> Iterator[None]:
    command = [sys.executable, "-m", module]
    with running(command, log_path, env=clean_environment(env)) as process:
        wait_until(lambda: _healthy(f"{url}/healthz"), START_TIMEOUT_S, module, process, log_path)
        yield


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def publish_all(source: ApplicantSource, bootstrap: str, topic: str, work: Path) -> str:
    """Run the producer until the API has no more applicants; returns its last output line."""
    env = {
        "LENDSTREAM_API_URL": source.api_url,
        "LENDSTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "LENDSTREAM_APPLICANT_TOPIC": topic,
        "LENDSTREAM_PRODUCER_CURSOR_FILE": str(work / "cursor.json"),
        "LENDSTREAM_PRODUCER_POLL_INTERVAL_S": "0.2",
    }
    result = subprocess.run(
        [sys.executable, "-m", "lendstream.services.producer", "--until-empty"],
        env=clean_environment(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]
