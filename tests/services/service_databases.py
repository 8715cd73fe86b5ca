"""The applicants database the loader CLI fills on the stack's MariaDB, as tests see it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pymysql
from service_processes import REPOSITORY, service_environment

from lendstream.stack.runtime import StackEndpoints

LOADER = "lendstream.services.applicant_api.loader"


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
        return service_environment(
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
        return service_environment(
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
