"""ansible/roles/hbase/files/hbase_tables.py (the role creates its tables with it, through a
Thrift server, from the controller): existing tables are left alone, missing ones created with
their families, a table created meanwhile by someone else is not reported as ours. The HBase
here is a real Thrift (1) server speaking happybase's IDL, buffered and binary as the role
configures HBase's; its handler keeps the table list."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import Any

import happybase  # noqa: F401 - loads the IDL module Hbase_thrift
import pytest
import script_modules
from Hbase_thrift import AlreadyExists, Hbase
from local_processes import free_port, thrift_server
from thriftpy2.transport import TBufferedTransportFactory, TTransportException

SCRIPT = Path(__file__).resolve().parents[2] / "ansible/roles/hbase/files/hbase_tables.py"


def load_script() -> ModuleType:
    return script_modules.load_script("hbase_tables", SCRIPT)


class TablesHandler:
    """getTableNames and createTable over a dict; ``raced`` tables appear at creation time."""

    def __init__(self, existing: list[str], raced: set[str]) -> None:
        self.tables: dict[str, list[Any]] = {name: [] for name in existing}
        self.raced = raced

    def getTableNames(self) -> list[bytes]:  # noqa: N802 - Thrift's method name
        return [name.encode() for name in self.tables]

    def createTable(self, tableName: bytes, columnFamilies: list[Any]) -> None:  # noqa: N802, N803
        name = tableName.decode()
        if name in self.tables or name in self.raced:
            raise AlreadyExists(message=f"{name} exists")
        self.tables[name] = columnFamilies


@pytest.fixture
def hbase() -> Iterator[Any]:
    """Start HBase Thrift servers with a handler; each call gives the server's port."""
    with ExitStack() as servers:

        def start(handler: TablesHandler) -> int:
            served = thrift_server(Hbase, handler, TBufferedTransportFactory())
            return servers.enter_context(served)

        yield start


# One table that exists ("members" in the fake's listing), one missing, one missing pre-split.
MEMBERS_AUDIT_SPREAD = [
    {"name": "members", "column_families": ["member", "result"]},
    {"name": "audit", "column_families": ["event"]},
    {"name": "spread", "column_families": ["f"], "regions": 12},
]


def test_missing_tables_are_created_with_their_families(hbase: Any) -> None:
    handler = TablesHandler(existing=["members"], raced=set())
    port = hbase(handler)
    result = load_script().create_missing_tables("127.0.0.1", port, MEMBERS_AUDIT_SPREAD)
    # a table that wants pre-split regions is left to the RegionSplitter (tasks/tables.yml)
    assert result == {
        "existing": ["members"],
        "created": ["audit"],
        "presplit": ["spread"],
        "would_create": [],
    }
    assert "spread" not in handler.tables
    (family,) = handler.tables["audit"]
    assert family.name == b"event:"
    assert (family.maxVersions, family.blockCacheEnabled) == (1, True)
    assert handler.tables["members"] == []  # left as it was


def test_a_table_created_meanwhile_is_not_reported_as_created(hbase: Any) -> None:
    port = hbase(TablesHandler(existing=[], raced={"members"}))
    tables = [{"name": "members", "column_families": ["member"]}]
    assert load_script().create_missing_tables("127.0.0.1", port, tables) == {
        "existing": [],
        "created": [],
        "presplit": [],
        "would_create": [],
    }


def test_a_dry_run_creates_nothing_and_names_every_missing_table(hbase: Any) -> None:
    handler = TablesHandler(existing=["members"], raced=set())
    port = hbase(handler)
    result = load_script().create_missing_tables(
        "127.0.0.1", port, MEMBERS_AUDIT_SPREAD, dry_run=True
    )
    assert result == {
        "existing": ["members"],
        "created": [],
        "presplit": [],
        "would_create": ["audit", "spread"],
    }
    assert set(handler.tables) == {"members"}  # nothing created


def test_no_thrift_server_is_an_error_the_role_retries() -> None:
    with pytest.raises(TTransportException, match="onnect"):
        load_script().create_missing_tables(
            "127.0.0.1", free_port(), [{"name": "t", "column_families": ["f"]}]
        )
