"""Reading the pipeline's HBase table through the first Thrift server that answers."""

from __future__ import annotations

from collections.abc import Sequence

import happybase

from lendstream.pipeline.hbase_writer import CONNECTION_ERRORS, member_id_of
from lendstream.reconcile.errors import CannotReconcileError

Rows = dict[str, dict[bytes, bytes]]  # member id (hbase_writer.member_id_of) → column → value


def read_table(hosts: Sequence[str], port: int, table: str, timeout_ms: int = 120_000) -> Rows:
    """Every row of ``table`` by the member id its key names, through the first Thrift server
    that answers."""
    problems = []
    for host in hosts:
        try:
            connection = happybase.Connection(host, port, timeout=timeout_ms)
        except CONNECTION_ERRORS as error:
            problems.append(f"{host}:{port}: {error}")
            continue
        try:
            if table.encode() not in connection.tables():
                raise CannotReconcileError(f"HBase has no table {table!r} (asked {host}:{port})")
            rows: Rows = {}
            for key, cells in connection.table(table).scan(batch_size=1000):
                rows[member_id_of(key)] = cells
            return rows
        except CONNECTION_ERRORS as error:
            problems.append(f"{host}:{port}: {error}")
        finally:
            connection.close()
    raise CannotReconcileError(f"no HBase Thrift server could be read: {'; '.join(problems)}")
