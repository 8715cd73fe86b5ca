"""Writes decided applicants to HBase through happybase, in batches, idempotently.

Row key: ``<salt>:<member_id>`` (:func:`member_row_key`), where the salt is the first
:data:`SALT_DIGITS` hex digits of the member id's SHA-256: computed from the member id alone, so a
replayed record overwrites its row and never duplicates it, while consecutive member ids
(``LC16Q1-000001``, ``SYN-7-42``) scatter evenly over the key space, which the table is pre-split
on (:func:`split_keys`, the hbase role's ``hbase_tables[].regions``): every RegionServer takes
writes. Columns (docs/architecture.md): ``member:id`` (the member id, so a row names its
applicant), ``member:raw``, ``member:clean``, ``result:decision``,
``result:rule`` / ``result:detail`` (rejected), ``result:probability_of_default`` /
``result:model_version`` (scored) and ``result:kafka_timestamp_ms``. The cells' HBase timestamps
are the server's write time, which the benchmark reads for end-to-end latency.

HBase's Thrift server drops sockets idle for 60 s, so the writer reconnects before reusing an idle
connection and retries a whole batch once on a dropped one (safe: the writes are idempotent).
With several Thrift servers (``failover_hosts``), each retry after a connection error goes to the
next server, which the writer then keeps using (lendstream.pipeline.endpoints).
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import happybase
from thriftpy2.transport import TTransportException

from lendstream.pipeline.endpoints import EndpointRotation
from lendstream.pipeline.flow import REJECTED, Applicant, Outcome

TABLE = "members"
FAMILIES: dict[str, dict[str, Any]] = {"member": {"max_versions": 1}, "result": {"max_versions": 1}}
SCORED_DECISIONS = frozenset({"approve", "review", "decline"})
# Thrift server's hbase.thrift.server.socket.read.timeout is 60 s; stay well under it.
MAX_IDLE_S = 45.0
CONNECTION_ERRORS = (TTransportException, OSError, EOFError)
# The salt: this many lowercase hex digits of SHA-256(member id), then SALT_SEPARATOR. The hbase
# role pre-splits with HBase's HexStringSplit between "0000" and "ffff" (four digits): keep the
# two in step (tests/unit/test_row_key.py checks it).
SALT_DIGITS = 4
SALT_SEPARATOR = ":"
SALT_BUCKETS = 16**SALT_DIGITS


class HBaseWriteError(RuntimeError):
    """A batch could not be written; the caller must fail (replay) its input."""


def row_cells(applicant: Applicant, outcome: Outcome) -> dict[bytes, bytes]:
    """The cells of one decided applicant's row."""
    cells = {
        b"member:id": applicant.member_id.encode("utf-8"),
        b"member:raw": applicant.raw.encode("utf-8"),
        b"member:clean": applicant.clean_json.encode("utf-8"),
        b"result:decision": outcome.decision.encode("utf-8"),
        b"result:kafka_timestamp_ms": str(int(applicant.kafka_timestamp_ms)).encode("ascii"),
    }
    if outcome.decision == REJECTED:
        cells[b"result:rule"] = str(outcome.rule).encode("utf-8")
        cells[b"result:detail"] = str(outcome.detail).encode("utf-8")
    elif outcome.decision in SCORED_DECISIONS and outcome.probability_of_default is not None:
        cells[b"result:probability_of_default"] = repr(
            float(outcome.probability_of_default)
        ).encode("ascii")
        cells[b"result:model_version"] = str(outcome.model_version).encode("utf-8")
    else:
        raise ValueError(f"{applicant.member_id!r} has no known decision: {outcome!r}")
    return cells


def salt(member_id: str) -> str:
    """The member id's bucket, as :data:`SALT_DIGITS` lowercase hex digits (stable: SHA-256)."""
    return hashlib.sha256(member_id.encode("utf-8")).hexdigest()[:SALT_DIGITS]


def member_row_key(member_id: str) -> bytes:
    """The row key of a member's row: ``<salt>:<member_id>``; the one place keys are made."""
    return f"{salt(member_id)}{SALT_SEPARATOR}{member_id}".encode()


def row_key(applicant: Applicant) -> bytes:
    return member_row_key(applicant.member_id)


def member_id_of(key: bytes) -> str:
    """The member id a row key names; a key that is not a salted member key (a row someone else
    wrote) is returned whole, decoded, so a reader can still name it."""
    text = key.decode("utf-8", errors="backslashreplace")
    prefix, separator, member_id = text.partition(SALT_SEPARATOR)
    if separator and len(prefix) == SALT_DIGITS and salt(member_id) == prefix:
        return member_id
    return text


def split_keys(regions: int) -> list[bytes]:
    """The first row of each region but the first, for a table of ``regions`` regions: what
    HBase's HexStringSplit gives between "0000" and "ffff" (the hbase role creates the table
    with it), i.e. ``i * ((16**SALT_DIGITS - 1) // regions)`` as hex digits."""
    if regions < 1:
        raise ValueError(f"a table has at least one region, not {regions}")
    step = (SALT_BUCKETS - 1) // regions
    return [format(i * step, f"0{SALT_DIGITS}x").encode() for i in range(1, regions)]


def region_of(key: bytes, splits: Sequence[bytes]) -> int:
    """Index of the region (0-based, in key order) that holds ``key``, given the split keys."""
    return bisect.bisect_right(list(splits), key)


@dataclass(frozen=True)
class HBaseSettings:
    host: str = "127.0.0.1"
    port: int = 9090
    table: str = TABLE
    batch_size: int = 500
    timeout_ms: int = 30_000
    attempts: int = 3
    max_idle_s: float = MAX_IDLE_S  # reconnect before reusing a connection idle this long
    failover_hosts: tuple[str, ...] = ()  # Thrift servers tried in turn after host

    @property
    def hosts(self) -> tuple[str, ...]:
        """Every Thrift server this writer may use, in the order it tries them."""
        return (self.host, *self.failover_hosts)


def ensure_table(connection: happybase.Connection, table: str = TABLE) -> None:
    """Create the table with its two families if it does not exist (idempotent)."""
    existing = {name.decode() for name in connection.tables()}
    if table not in existing:
        try:
            connection.create_table(table, FAMILIES)
        except Exception:  # a concurrent creator may have won: check again
            if table.encode() not in connection.tables():
                raise


class HBaseWriter:
    """Batched, reconnecting writer of decided items; one instance per process."""

    def __init__(self, settings: HBaseSettings) -> None:
        self.settings = settings
        self.rotation = EndpointRotation(settings.hosts)
        self._connection: happybase.Connection | None = None
        self._last_used = 0.0
        self.dropped_connections = 0  # connections found broken while writing (then retried)

    def _fresh_connection(self) -> happybase.Connection:
        self.close()
        self._connection = happybase.Connection(
            self.rotation.current, self.settings.port, timeout=self.settings.timeout_ms
        )
        return self._connection

    def _connection_for_use(self) -> happybase.Connection:
        idle = time.monotonic() - self._last_used
        if self._connection is None or idle > self.settings.max_idle_s:
            return self._fresh_connection()
        return self._connection

    def write(self, applicants: Sequence[Applicant], outcomes: Sequence[Outcome]) -> int:
        """Write each decided applicant's row; raises :class:`HBaseWriteError` if it still fails."""
        rows = [
            (row_key(applicant), row_cells(applicant, outcome))
            for applicant, outcome in zip(applicants, outcomes, strict=True)
        ]
        if not rows:
            return 0
        last_error: BaseException | None = None
        for attempt in range(self.settings.attempts):
            try:
                connection = (
                    self._connection_for_use() if attempt == 0 else self._fresh_connection()
                )
                table = connection.table(self.settings.table)
                with table.batch(batch_size=self.settings.batch_size) as batch:
                    for key, cells in rows:
                        batch.put(key, cells)
                self._last_used = time.monotonic()
                return len(rows)
            except CONNECTION_ERRORS as error:
                last_error = error
                self.dropped_connections += 1
                self.close()
                self.rotation.fail_over()
                time.sleep(0.2 * (attempt + 1))
        raise HBaseWriteError(
            f"could not write {len(rows)} rows to {self.settings.table} at "
            f"{','.join(self.rotation.endpoints)} port {self.settings.port} "
            f"after {self.settings.attempts} attempts: "
            f"{type(last_error).__name__}: {last_error}"
        )

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(*CONNECTION_ERRORS):
                self._connection.close()
            self._connection = None
