"""Loader CLI: create the applicants schema and the API's read-only user, then load applicants.

``python -m lendstream.services.applicant_api.loader --reader-password-file PATH [--synthetic N
--seed S --malformed-rate R]`` connects as an administrator (``--user`` or
``LENDSTREAM_MYSQL_ADMIN_USER``, ``LENDSTREAM_MYSQL_ADMIN_PASSWORD_FILE`` or
``LENDSTREAM_MYSQL_ADMIN_PASSWORD``), creates the database, the ``applicants`` table and a user
that may only SELECT from it, and loads the real LendingClub rows
(``lendstream.model.data.lending_club_raw_records()``) and optionally synthetic ones.
With ``--load-only`` (the cluster, where the mysql role owns the schema and the accounts) it
creates nothing and needs only INSERT and SELECT on the table: it connects as the loader account
(``--user``, ``LENDSTREAM_MYSQL_LOADER_PASSWORD_FILE`` or ``LENDSTREAM_MYSQL_LOADER_PASSWORD``).
``--ssl-ca PATH`` (``LENDSTREAM_MYSQL_SSL_CA``) connects over TLS, verifying the server's
certificate against that CA and its name against ``--host``.
Idempotent: a rerun inserts nothing that is already there (``INSERT IGNORE`` on the unique
``member_id`` and ``record_digest``). With ``--rate R`` the synthetic rows are inserted at a
steady R per second (the fault suite's load), riding out a restart of the server: a batch that
fails is retried on a new connection, which the idempotent insert makes safe. Rows whose
``member_id`` is longer than the column are skipped and counted; rows without a ``member_id``
are stored (keyed by their digest) so the pipeline can dead-letter them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pymysql

from lendstream import cli
from lendstream.services import environment as env_vars
from lendstream.services.applicant_api.schema import (
    MEMBER_ID_MAX_LENGTH,
    TABLE,
    create_table_sql,
    insert_sql,
    quoted_identifier,
    row_values,
)
from lendstream.services.applicant_api.settings import (
    DEFAULT_DATABASE,
    DEFAULT_READER_USER,
    tls_arguments,
)

DEFAULT_READER_HOSTS = ("%", "localhost")
DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True, slots=True)
class AdminConnection:
    """How the loader reaches the server: as an administrator, or (``--load-only``) as the loader
    account; over TLS verified against ``ssl_ca`` when it is set."""

    host: str
    port: int
    user: str
    password: str
    ssl_ca: str | None = None
    # The environment's password variable when it names a file: read again for every connection,
    # so a paced load outliving a password rotation reconnects with the new one.
    password_variable: str | None = None

    def current_password(self) -> str:
        if not self.password_variable:
            return self.password
        return env_vars.secret(env_vars.environment(), self.password_variable) or self.password


@dataclass(slots=True)
class LoadCounts:
    """What one load did: rows read, newly inserted, already present, and skipped."""

    read: int = 0
    inserted: int = 0
    already_present: int = 0
    skipped_member_id_too_long: int = 0


def connect_admin(admin: AdminConnection, database: str | None = None) -> Any:
    """An autocommit connection as the loader's account (TLS when ``admin.ssl_ca`` is set)."""
    return pymysql.connect(
        host=admin.host,
        port=admin.port,
        user=admin.user,
        password=admin.current_password(),
        database=database,
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=5,
        **tls_arguments(admin.ssl_ca),
    )


def create_schema(connection: Any, database: str) -> None:
    """Create the database and the applicants table if they do not exist."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE DATABASE IF NOT EXISTS {quoted_identifier(database)}"
            " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )
        cursor.execute(f"USE {quoted_identifier(database)}")
        cursor.execute(create_table_sql())


def create_reader(
    connection: Any, database: str, user: str, password: str, hosts: Iterable[str]
) -> None:
    """Create (or re-password) the read-only user: SELECT on the applicants table, nothing else."""
    _grant_only(connection, database, user, password, hosts, privileges="SELECT")


def create_loader_account(
    connection: Any, database: str, user: str, password: str, hosts: Iterable[str]
) -> None:
    """Create (or re-password) a loader account: INSERT and SELECT on the applicants table,
    nothing else (``INSERT IGNORE`` never updates a row). The cluster's is the mysql role's."""
    _grant_only(connection, database, user, password, hosts, privileges="SELECT, INSERT")


def _grant_only(
    connection: Any,
    database: str,
    user: str,
    password: str,
    hosts: Iterable[str],
    *,
    privileges: str,
) -> None:
    table = f"{quoted_identifier(database)}.`{TABLE}`"
    quoted_identifier(user)
    with connection.cursor() as cursor:
        for host in hosts:
            account = "%s@%s"
            cursor.execute(
                f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY %s", (user, host, password)
            )
            cursor.execute(f"ALTER USER {account} IDENTIFIED BY %s", (user, host, password))
            cursor.execute(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}", (user, host))
            cursor.execute(f"GRANT {privileges} ON {table} TO {account}", (user, host))


def load_records(
    connection: Any, records: Iterable[Mapping[str, Any]], batch_size: int = DEFAULT_BATCH_SIZE
) -> LoadCounts:
    """Insert raw records in batches; rows already present are left as they are."""
    counts = LoadCounts()
    sql = insert_sql()
    for batch in _batches(records, batch_size):
        rows = []
        for raw in batch:
            counts.read += 1
            member_id = raw.get("member_id")
            if isinstance(member_id, str) and len(member_id) > MEMBER_ID_MAX_LENGTH:
                counts.skipped_member_id_too_long += 1
                continue
            rows.append(row_values(dict(raw)))
        if not rows:
            continue
        with connection.cursor() as cursor:
            inserted = cursor.executemany(sql, rows) or 0
        counts.inserted += inserted
        counts.already_present += len(rows) - inserted
    return counts


def load_records_paced(
    connect: Callable[[], Any],
    records: Iterable[Mapping[str, Any]],
    rate_per_s: float,
    retry_timeout_s: float,
    batches_per_s: int = 5,
) -> LoadCounts:
    """Insert raw records at a steady rate, in small batches on a schedule fixed at the start.

    A batch that fails (the server restarting, a dropped connection) is retried on a new
    connection until ``retry_timeout_s`` has passed without success; the schedule then catches up.
    """
    if rate_per_s <= 0:
        raise ValueError(f"the rate must be positive, not {rate_per_s}")
    batch_size = max(1, round(rate_per_s / batches_per_s))
    counts = LoadCounts()
    connection = connect()
    started = time.monotonic()
    try:
        for batch in _batches(records, batch_size):
            due = started + counts.read / rate_per_s
            time.sleep(max(0.0, due - time.monotonic()))
            failing_since: float | None = None
            while True:
                try:
                    batch_counts = load_records(connection, batch, batch_size)
                    break
                except (pymysql.OperationalError, pymysql.InterfaceError) as error:
                    now = time.monotonic()
                    failing_since = failing_since or now
                    if now - failing_since > retry_timeout_s:
                        raise
                    print(f"loader: {type(error).__name__}: {error}; retrying", file=sys.stderr)
                    time.sleep(1.0)
                    connection.close()
                    try:
                        connection = connect()
                    except pymysql.MySQLError:
                        connection = _Closed()
            counts.read += batch_counts.read
            counts.inserted += batch_counts.inserted
            counts.already_present += batch_counts.already_present
            counts.skipped_member_id_too_long += batch_counts.skipped_member_id_too_long
    finally:
        connection.close()
    return counts


class _Closed:
    """Stands for a connection that could not be made: every use fails like a dropped one."""

    def cursor(self) -> Any:
        raise pymysql.InterfaceError("not connected")

    def close(self) -> None:
        pass


def reader_password(path: Path | None, given: str | None) -> str:
    """The reader's password: given, or read from ``path``, or generated and written there 0600."""
    if given:
        return given
    if path is None:
        raise SystemExit("give --reader-password-file PATH (read if present, else generated)")
    if path.exists():
        password = path.read_text(encoding="utf-8").strip()
        if not password:
            raise SystemExit(f"{path} is empty")
        return password
    password = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    return password


def _batches(records: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    iterator = iter(records)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream loader`'s arguments (lendstream.cli.loader); defaults from the environment."""
    env = env_vars.environment()
    parser.add_argument("--host", default=env_vars.text(env, "LENDSTREAM_MYSQL_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=env_vars.integer(env, "LENDSTREAM_MYSQL_PORT", 3306, 1, 65535)
    )
    parser.add_argument(
        "--user",
        "--admin-user",
        dest="user",
        default=env_vars.text(
            env,
            "LENDSTREAM_MYSQL_LOADER_USER",
            env_vars.text(env, "LENDSTREAM_MYSQL_ADMIN_USER", "root"),
        ),
        help="the account to connect as: an administrator, or with --load-only the loader account",
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="create neither the schema nor the read-only account: needs only INSERT and SELECT",
    )
    parser.add_argument(
        "--ssl-ca",
        default=env.get("LENDSTREAM_MYSQL_SSL_CA") or None,
        metavar="PATH",
        help="connect over TLS, verifying the server's certificate and name against this CA",
    )
    parser.add_argument(
        "--database", default=env_vars.text(env, "LENDSTREAM_MYSQL_DATABASE", DEFAULT_DATABASE)
    )
    parser.add_argument(
        "--reader-user", default=env_vars.text(env, "LENDSTREAM_MYSQL_USER", DEFAULT_READER_USER)
    )
    parser.add_argument(
        "--reader-password-file",
        type=Path,
        default=Path(env["LENDSTREAM_MYSQL_PASSWORD_FILE"])
        if env.get("LENDSTREAM_MYSQL_PASSWORD_FILE")
        else None,
        help="read the reader's password from here; generated and written (0600) if absent",
    )
    parser.add_argument(
        "--reader-host",
        action="append",
        dest="reader_hosts",
        help="host part of the reader account (repeatable; default: %% and localhost)",
    )
    parser.add_argument("--skip-real", action="store_true", help="do not load the real rows")
    parser.add_argument("--synthetic", type=int, default=0, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--malformed-rate", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        metavar="PER_S",
        help="insert the synthetic rows at this steady rate, riding out server restarts",
    )
    parser.add_argument(
        "--retry-timeout-s",
        type=float,
        default=300.0,
        help="with --rate: give up when a batch has failed for this long",
    )


def main(argv: list[str] | None = None) -> int:
    return cli.run_subcommand("loader", argv)


def run_command(args: argparse.Namespace) -> int:
    try:
        return _load(args)
    except (pymysql.MySQLError, env_vars.SettingsError, OSError) as error:
        print(f"loader: {type(error).__name__}: {error}", file=sys.stderr)
        return 2


ACCOUNT_PASSWORD_VARIABLES = ("LENDSTREAM_MYSQL_LOADER_PASSWORD", "LENDSTREAM_MYSQL_ADMIN_PASSWORD")


def account_password(env: Mapping[str, str]) -> str:
    """The password of the account the loader connects as: the loader account's
    (LENDSTREAM_MYSQL_LOADER_PASSWORD(_FILE)), else the administrator's (…_ADMIN_PASSWORD…)."""
    for name in ACCOUNT_PASSWORD_VARIABLES:
        password = env_vars.secret(env, name, required=False)
        if password:
            return password
    return ""


def account_password_file_variable(env: Mapping[str, str]) -> str | None:
    """The variable ``account_password`` takes its password from, when that is a file's."""
    for name in ACCOUNT_PASSWORD_VARIABLES:
        if env.get(f"{name}_FILE", "").strip():
            return name
        if env.get(name, "").strip():
            return None
    return None


def _load(args: argparse.Namespace) -> int:
    env = env_vars.environment()
    admin = AdminConnection(
        args.host,
        args.port,
        args.user,
        account_password(env),
        args.ssl_ca,
        account_password_file_variable(env),
    )
    connection = connect_admin(admin, args.database if args.load_only else None)
    try:
        if not args.load_only:
            password = reader_password(
                args.reader_password_file, env.get("LENDSTREAM_MYSQL_PASSWORD")
            )
            create_schema(connection, args.database)
            create_reader(
                connection,
                args.database,
                args.reader_user,
                password,
                args.reader_hosts or DEFAULT_READER_HOSTS,
            )
        summary: dict[str, Any] = {}
        if not args.skip_real:
            from lendstream.model.data import lending_club_raw_records  # noqa: PLC0415

            summary["real"] = asdict(
                load_records(connection, lending_club_raw_records(), args.batch_size)
            )
        if args.synthetic:
            from lendstream.model.synthetic import generate  # noqa: PLC0415

            records = generate(args.synthetic, seed=args.seed, malformed_rate=args.malformed_rate)
            if args.rate:
                counts = load_records_paced(
                    lambda: connect_admin(admin, args.database),
                    records,
                    args.rate,
                    args.retry_timeout_s,
                )
            else:
                counts = load_records(connection, records, args.batch_size)
            summary["synthetic"] = asdict(counts)
    finally:
        connection.close()
    connection = connect_admin(admin, args.database)  # a paced load may outlive the first one
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM `{TABLE}`")
            summary["table_rows"] = cursor.fetchone()[0]
    finally:
        connection.close()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
