"""The ``applicants`` table: one nullable text column per raw field, as LendingClub publishes it.

Besides the raw fields the table has the auto-increment ``id`` (the API's cursor and the Kafka
``applicant_id`` header) and ``record_digest``, a SHA-256 of the raw fields. ``member_id`` is
unique, and so is the digest: a reload skips rows already there (``INSERT IGNORE``), including
malformed rows that have no ``member_id`` to key them by (NULLs never collide in a unique index).
A blank ``member_id`` (``""``, spaces) is stored as NULL — blank and null mean the same in the
record contract — so that blanks do not collide with each other in the unique index.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from lendstream.pipeline.record import RAW_FIELDS

TABLE = "applicants"
MEMBER_ID_MAX_LENGTH = 255
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def quoted_identifier(name: str) -> str:
    """A database, table or user name, checked and back-quoted (names come from settings)."""
    if _IDENTIFIER.match(name) is None:
        raise ValueError(f"{name!r} is not a plain identifier (letters, digits, _; 1-64 chars)")
    return f"`{name}`"


def create_table_sql() -> str:
    """``CREATE TABLE IF NOT EXISTS`` for the applicants table."""
    columns = [
        "`id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT",
        f"`member_id` VARCHAR({MEMBER_ID_MAX_LENGTH}) NULL",
        *(f"`{name}` TEXT NULL" for name in RAW_FIELDS if name != "member_id"),
        "`record_digest` CHAR(64) NOT NULL",
        "`loaded_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP",
        "PRIMARY KEY (`id`)",
        "UNIQUE KEY `applicants_member_id` (`member_id`)",
        "UNIQUE KEY `applicants_record_digest` (`record_digest`)",
    ]
    body = ",\n  ".join(columns)
    return (
        f"CREATE TABLE IF NOT EXISTS `{TABLE}` (\n  {body}\n)"
        " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    )


def insert_sql() -> str:
    """``INSERT IGNORE`` of one row; pymysql's ``executemany`` sends it as multi-row inserts."""
    names = [*RAW_FIELDS, "record_digest"]
    column_list = ", ".join(f"`{name}`" for name in names)
    placeholders = ", ".join(["%s"] * len(names))
    return f"INSERT IGNORE INTO `{TABLE}` ({column_list}) VALUES ({placeholders})"


def select_columns_sql() -> str:
    """The columns the API serves: ``id`` and the raw fields, in table order."""
    return ", ".join(f"`{name}`" for name in ("id", *RAW_FIELDS))


def stored_value(value: Any) -> str | None:
    """A raw value as the table stores it: strings as they are, blanks kept, other JSON as text.

    Raw records are strings (or null) by contract; a number or nested value from a malformed
    source is kept as its JSON text so the pipeline still sees — and dead-letters — it.
    """
    if value is None:
        return None
    if isinstance(value, str):
        # utf8mb4 cannot hold lone surrogates; replace them rather than fail the whole batch.
        return value.encode("utf-8", "replace").decode("utf-8")
    return json.dumps(value, ensure_ascii=False, default=str)


def row_values(raw: dict[str, Any]) -> tuple[str | None, ...]:
    """The insert parameters for one raw record: its raw fields, then their digest."""
    values = tuple(
        None if name == "member_id" and _is_blank(raw.get(name)) else stored_value(raw.get(name))
        for name in RAW_FIELDS
    )
    digest = hashlib.sha256(
        json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    ).hexdigest()
    return (*values, digest)


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
