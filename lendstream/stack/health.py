"""Protocol-level health checks: each asks the daemon a real question and judges the answer."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pymysql

from lendstream.stack.layout import StackLayout
from lendstream.stack.mysql_admin import admin_credentials, run_as_socket_root

CHECK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


def mysql_socket_answers(layout: StackLayout) -> Health:
    """The server answers `SELECT 1` over its unix socket (before the admin account exists)."""
    if not (layout.component_dir("mysql") / "run" / "mysqld.sock").exists():
        return Health(False, "no socket yet")
    result = run_as_socket_root(layout, "SELECT 1;")
    if result.returncode == 0 and result.stdout.strip() == "1":
        return Health(True, "answers on its socket")
    return Health(False, result.stderr.strip() or "no answer")


def mysql_admin_select(layout: StackLayout) -> Health:
    """`SELECT 1` over TCP as the stack's admin account."""
    credentials = admin_credentials(layout)
    try:
        connection = pymysql.connect(
            host=layout.host,
            port=layout.ports.mysql,
            user=credentials.user,
            password=credentials.password,
            connect_timeout=CHECK_TIMEOUT_S,
            read_timeout=CHECK_TIMEOUT_S,
        )
    except pymysql.MySQLError as error:
        return Health(False, f"connect failed: {error}")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1, VERSION()")
            row = cursor.fetchone()
    finally:
        connection.close()
    if row and row[0] == 1:
        return Health(True, f"SELECT 1 ok ({row[1]})")
    return Health(False, f"unexpected answer {row!r}")


def zookeeper_four_letter(layout: StackLayout, word: str) -> str:
    with socket.create_connection(
        (layout.host, layout.ports.zookeeper), timeout=CHECK_TIMEOUT_S
    ) as connection:
        connection.sendall(word.encode())
        chunks = []
        while chunk := connection.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")
