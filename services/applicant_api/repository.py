"""Reading applicants from MariaDB/MySQL as the API's read-only user.

Each thread keeps one connection and reconnects after a failure, with the password its file
holds then (a rotation needs no restart); any database failure surfaces as
:class:`DatabaseUnavailable`, which the API answers with 503.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pymysql
import pymysql.cursors

from lendstream.services import environment as env_vars
from lendstream.services.applicant_api.schema import TABLE, select_columns_sql
from lendstream.services.applicant_api.settings import MySQLSettings, tls_arguments

Applicant = dict[str, Any]


class DatabaseUnavailable(RuntimeError):  # noqa: N818 - reads as the situation
    """The database could not be reached or failed to answer."""


class ApplicantRepository:
    """Cursor-paginated reads of the ``applicants`` table."""

    def __init__(self, settings: MySQLSettings) -> None:
        self._settings = settings
        self._local = threading.local()
        columns = select_columns_sql()
        self._page_sql = f"SELECT {columns} FROM `{TABLE}` WHERE `id` > %s ORDER BY `id` LIMIT %s"
        self._one_sql = f"SELECT {columns} FROM `{TABLE}` WHERE `id` = %s"

    def page(self, after: int, limit: int) -> list[Applicant]:
        """Up to ``limit`` applicants whose id is greater than ``after``, in id order."""
        return self._query(self._page_sql, (after, limit))

    def one(self, applicant_id: int) -> Applicant | None:
        """The applicant with this id, or ``None``."""
        rows = self._query(self._one_sql, (applicant_id,))
        return rows[0] if rows else None

    def ping(self) -> None:
        """Raise :class:`DatabaseUnavailable` unless the table answers a query."""
        self._query(f"SELECT 1 FROM `{TABLE}` LIMIT 1", ())

    def _query(self, sql: str, parameters: tuple[Any, ...]) -> list[Applicant]:
        try:
            connection = self._connection()
            with connection.cursor() as cursor:
                cursor.execute(sql, parameters)
                return list(cursor.fetchall())
        except pymysql.MySQLError as error:
            self._drop_connection()
            raise DatabaseUnavailable(f"database error: {error}") from error

    def _connection(self) -> pymysql.connections.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            settings = self._settings
            try:
                password = settings.current_password()
            except env_vars.SettingsError as error:
                raise pymysql.OperationalError(f"no password: {error}") from error
            connection = pymysql.connect(
                host=settings.host,
                port=settings.port,
                user=settings.user,
                password=password,
                database=settings.database,
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=settings.connect_timeout_s,
                read_timeout=settings.read_timeout_s,
                write_timeout=settings.read_timeout_s,
                cursorclass=pymysql.cursors.DictCursor,
                **tls_arguments(settings.ssl_ca),
            )
            self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with contextlib.suppress(pymysql.MySQLError):
                connection.close()
