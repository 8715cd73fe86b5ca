"""The applicants database the loader CLI fills on the stack's MariaDB, as tests see it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pymysql
from local_processes import clean_environment
from service_processes import REPOSITORY

from lendstream.stack.runtime import StackEndpoints

LOADER = "lendstream.services.applicant_api.loader"
SYNTHETIC_LOAD = ("--skip-real", "--synthetic", "3000", "--seed", "11", "--malformed-rate", "0.2")


@dataclass(frozen=True)
class ApplicantDatabase:
    """A database loaded by the loader CLI, with the API's read-only user."""

    endpoints: StackEndpoints
    database: str
    reader_user: str
    reader_password_file: Path
    load_summary: str

    def admin_connection(self) -> pymysql.Connection:
        return pymysql.connect(
            host=self.endpoints.mysql_host,
            port=self.endpoints.mysql_port,
            user=self.endpoints.mysql_admin_user,
            password=self.endpoints.mysql_admin_password,
            database=self.database,
            autocommit=True,
            connect_timeout=5,
        )

    def loader_environment(self) -> dict[str, str]:
        return clean_environment(
            {
                "LENDSTREAM_MYSQL_HOST": self.endpoints.mysql_host,
                "LENDSTREAM_MYSQL_PORT": str(self.endpoints.mysql_port),
                "LENDSTREAM_MYSQL_ADMIN_USER": self.endpoints.mysql_admin_user,
                "LENDSTREAM_MYSQL_ADMIN_PASSWORD": self.endpoints.mysql_admin_password,
                "LENDSTREAM_MYSQL_DATABASE": self.database,
                "LENDSTREAM_MYSQL_USER": self.reader_user,
                "LENDSTREAM_MYSQL_PASSWORD_FILE": str(self.reader_password_file),
            }
        )

    def api_environment(self, port: int) -> dict[str, str]:
        return clean_environment(
            {
                "LENDSTREAM_MYSQL_HOST": self.endpoints.mysql_host,
                "LENDSTREAM_MYSQL_PORT": str(self.endpoints.mysql_port),
                "LENDSTREAM_MYSQL_DATABASE": self.database,
                "LENDSTREAM_MYSQL_USER": self.reader_user,
                "LENDSTREAM_MYSQL_PASSWORD_FILE": str(self.reader_password_file),
                "LENDSTREAM_API_BIND": f"127.0.0.1:{port}",
                "LENDSTREAM_API_WORKERS": "2",
            }
        )


def run_loader(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", LOADER, *arguments],
        env=env,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@contextmanager
def loaded_database(
    endpoints: StackEndpoints, work_dir: Path, *loader_arguments: str
) -> Iterator[ApplicantDatabase]:
    """A fresh database filled by the loader CLI; dropped, with its reader, afterwards."""
    suffix = uuid.uuid4().hex[:8]
    database = ApplicantDatabase(
        endpoints=endpoints,
        database=f"lendstream_test_{suffix}",
        reader_user=f"lsapi_{suffix}",
        reader_password_file=work_dir / "reader-password",
        load_summary="",
    )
    try:
        result = run_loader(database.loader_environment(), *loader_arguments)
        assert result.returncode == 0, result.stderr[-3000:]
        yield replace(database, load_summary=result.stdout)
    finally:
        admin = pymysql.connect(
            host=endpoints.mysql_host,
            port=endpoints.mysql_port,
            user=endpoints.mysql_admin_user,
            password=endpoints.mysql_admin_password,
            autocommit=True,
            connect_timeout=5,
        )
        with admin, admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database.database}`")
            cursor.execute("SELECT host FROM mysql.user WHERE user = %s", (database.reader_user,))
            for (host,) in cursor.fetchall():
                cursor.execute("DROP USER %s@%s", (database.reader_user, host))
