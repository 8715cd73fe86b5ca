#!/usr/bin/env python3
"""Create missing HBase tables through the Thrift (1) server, with the standard library only.

Nodes have no HBase shell (no JRuby in the bundle), no JDK compiler and no Thrift library: this
speaks Thrift's binary protocol (buffered, unframed: the role's hbase-site.xml) just far enough
for Hbase.getTableNames and Hbase.createTable. Prints {"existing": [...], "created": [...]}.

Usage: hbase_tables.py HOST PORT TABLES_JSON
(TABLES_JSON: [{"name": ..., "column_families": [...]}], as hbase_tables)
"""

from __future__ import annotations

import json
import socket
import struct
import sys
from typing import Any

VERSION_1 = 0x80010000
CALL, REPLY, EXCEPTION = 1, 2, 3
STOP, BOOL, BYTE, DOUBLE, I16, I32, I64, STRING, STRUCT, MAP, SET, LIST = (
    0,
    2,
    3,
    4,
    6,
    8,
    10,
    11,
    12,
    13,
    14,
    15,
)
TIMEOUT_SECONDS = 60.0


class ThriftConnection:
    """One blocking connection; each call sends a message and reads its reply struct."""

    def __init__(self, host: str, port: int) -> None:
        self._socket = socket.create_connection((host, port), timeout=TIMEOUT_SECONDS)
        self._sequence = 0

    def call(self, method: str, arguments: bytes) -> dict[int, Any]:
        self._sequence += 1
        name = method.encode()
        header = struct.pack(">Ii", VERSION_1 | CALL, len(name)) + name
        self._socket.sendall(header + struct.pack(">i", self._sequence) + arguments + bytes([STOP]))
        (version,) = struct.unpack(">I", self._read(4))
        if version & 0xFFFF0000 != VERSION_1:
            raise RuntimeError(f"unexpected Thrift version {version:#x}")
        self._read(struct.unpack(">i", self._read(4))[0] + 4)  # method name, sequence id
        result = self._read_value(STRUCT)
        if version & 0xFF == EXCEPTION:
            raise RuntimeError(f"{method}: application exception {result}")
        return result

    def close(self) -> None:
        self._socket.close()

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self._socket.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the Thrift server closed the connection")
            data += chunk
        return data

    def _read_value(self, kind: int) -> Any:
        fixed = {BOOL: ">?", BYTE: ">b", DOUBLE: ">d", I16: ">h", I32: ">i", I64: ">q"}
        if kind in fixed:
            layout = fixed[kind]
            return struct.unpack(layout, self._read(struct.calcsize(layout)))[0]
        if kind == STRING:
            return self._read(struct.unpack(">i", self._read(4))[0])
        if kind == STRUCT:
            fields: dict[int, Any] = {}
            while (field_kind := self._read(1)[0]) != STOP:
                field_id = struct.unpack(">h", self._read(2))[0]
                fields[field_id] = self._read_value(field_kind)
            return fields
        if kind in (LIST, SET):
            element_kind, count = struct.unpack(">bi", self._read(5))
            return [self._read_value(element_kind) for _ in range(count)]
        if kind == MAP:
            key_kind, value_kind, count = struct.unpack(">bbi", self._read(6))
            return {self._read_value(key_kind): self._read_value(value_kind) for _ in range(count)}
        raise RuntimeError(f"unknown Thrift type {kind}")


def _field(kind: int, field_id: int, payload: bytes) -> bytes:
    return struct.pack(">bh", kind, field_id) + payload


def _string(value: str) -> bytes:
    encoded = value.encode()
    return struct.pack(">i", len(encoded)) + encoded


def _column_descriptor(family: str) -> bytes:
    """Hbase.ColumnDescriptor with HBase's own defaults (one version, block cache on)."""
    return (
        _field(STRING, 1, _string(family + ":"))
        + _field(I32, 2, struct.pack(">i", 1))
        + _field(STRING, 3, _string("NONE"))
        + _field(BOOL, 4, b"\x00")
        + _field(STRING, 5, _string("NONE"))
        + _field(BOOL, 8, b"\x01")
        + _field(I32, 9, struct.pack(">i", 0x7FFFFFFF))
        + bytes([STOP])
    )


def _create_table_arguments(name: str, families: list[str]) -> bytes:
    descriptors = b"".join(_column_descriptor(family) for family in families)
    return _field(STRING, 1, _string(name)) + _field(
        LIST, 2, struct.pack(">bi", STRUCT, len(families)) + descriptors
    )


def create_missing_tables(
    host: str, port: int, tables: list[dict[str, Any]]
) -> dict[str, list[str]]:
    connection = ThriftConnection(host, port)
    try:
        reply = connection.call("getTableNames", b"")
        if 0 not in reply:
            raise RuntimeError(f"getTableNames failed: {reply}")
        existing = sorted(name.decode() for name in reply[0])
        created = []
        for table in tables:
            if table["name"] in existing:
                continue
            reply = connection.call(
                "createTable", _create_table_arguments(table["name"], table["column_families"])
            )
            if 3 not in reply and reply:  # 3: AlreadyExists (another run won the race)
                raise RuntimeError(f"createTable {table['name']} failed: {reply}")
            created.append(table["name"])
        return {"existing": existing, "created": created}
    finally:
        connection.close()


def main() -> None:
    host, port, tables_json = sys.argv[1:4]
    print(json.dumps(create_missing_tables(host, int(port), json.loads(tables_json))))


if __name__ == "__main__":
    main()
