"""The private MariaDB's admin account: generated once per stack, kept 0600 under secrets/."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lendstream.stack.layout import StackLayout

ADMIN_USER = "lendstream_admin"
# Where the admin connects from: TCP on loopback, and the unix socket.
ADMIN_HOSTS = ("127.0.0.1", "localhost")
CLIENT_BINARY = "mariadb"
CLIENT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class AdminCredentials:
    user: str
    password: str


def admin_credentials(layout: StackLayout) -> AdminCredentials:
    """Read the stack's admin credentials, generating them on first use."""
    path = layout.secrets / "mysql-admin.json"
    if not path.exists():
        layout.secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(layout.secrets, 0o700)
        generated = {"user": ADMIN_USER, "password": secrets.token_urlsafe(24)}
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(generated, handle)
    stored = json.loads(path.read_text())
    return AdminCredentials(user=stored["user"], password=stored["password"])


def run_as_socket_root(layout: StackLayout, sql: str) -> subprocess.CompletedProcess[str]:
    """Run SQL as the OS user's MariaDB account over the unix socket (unix_socket auth)."""
    return run_over_socket(layout.mysql_conf, layout.os_user, sql)


def run_over_socket(defaults_file: Path, user: str, sql: str) -> subprocess.CompletedProcess[str]:
    """Run SQL as ``user`` over the unix socket of the server ``defaults_file`` configures."""
    return subprocess.run(
        [
            CLIENT_BINARY,
            f"--defaults-file={defaults_file}",
            f"--user={user}",
            "--batch",
            "--skip-column-names",
        ],
        input=sql,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        check=False,
    )


def ensure_admin_account(layout: StackLayout) -> None:
    """Create (or reset to the stored password) the admin account; idempotent."""
    credentials = admin_credentials(layout)
    statements = []
    for host in ADMIN_HOSTS:
        account = f"'{credentials.user}'@'{host}'"
        statements += [
            f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{credentials.password}';",
            f"ALTER USER {account} IDENTIFIED BY '{credentials.password}';",
            f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION;",
        ]
    result = run_as_socket_root(layout, "\n".join(statements))
    if result.returncode != 0:
        raise RuntimeError(f"could not create the MariaDB admin account: {result.stderr.strip()}")
