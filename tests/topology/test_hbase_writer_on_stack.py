"""The HBase writer against the stack's real Thrift server: failover from a host that does not
resolve, and a socket the server dropped after 60 s idle."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import happybase
import pytest

from lendstream.pipeline.flow import Applicant, Outcome
from lendstream.pipeline.hbase_writer import FAMILIES, HBaseSettings, HBaseWriter, member_id_of
from lendstream.stack.runtime import StackEndpoints

pytestmark = pytest.mark.stack

UNRESOLVABLE_HOST = "dead-thrift-server.invalid"  # .invalid never resolves (RFC 2606)
IDLE_LONGER_THAN_THE_SERVER_ALLOWS_S = 70.0  # hbase.thrift.server.socket.read.timeout: 60 s


@pytest.fixture
def table(stack_hbase: StackEndpoints) -> Iterator[HBaseSettings]:
    name = f"writer_test_{uuid.uuid4().hex[:8]}"
    host, port = stack_hbase.hbase_thrift_host, stack_hbase.hbase_thrift_port
    connection = happybase.Connection(host, port)
    connection.create_table(name, FAMILIES)
    connection.close()
    try:
        yield HBaseSettings(host, port, name)
    finally:
        connection = happybase.Connection(host, port)  # a fresh one: the test idles past 60 s
        connection.delete_table(name, disable=True)
        connection.close()


def applicant(member_id: str) -> Applicant:
    clean_json = json.dumps({"member_id": member_id})
    return Applicant(member_id, "{}", clean_json, 1_700_000_000_000, 0, 1)


def stored(settings: HBaseSettings) -> dict[bytes, dict[bytes, bytes]]:
    """The table's rows by the member id their key names."""
    connection = happybase.Connection(settings.host, settings.port)
    try:
        return {
            member_id_of(key).encode(): cells
            for key, cells in connection.table(settings.table).scan()
        }
    finally:
        connection.close()


def test_the_writer_fails_over_to_a_thrift_server_that_answers(table: HBaseSettings) -> None:
    writer = HBaseWriter(
        HBaseSettings(
            UNRESOLVABLE_HOST, table.port, table.table, failover_hosts=(table.host,), attempts=3
        )
    )
    rejected = Outcome("rejected", rule="grade", detail="G")
    assert writer.write([applicant("m1"), applicant("m2")], [rejected, rejected]) == 2
    assert writer.rotation.current == table.host
    assert writer.rotation.failovers == 1
    writer.close()
    rows = stored(table)
    assert sorted(rows) == [b"m1", b"m2"]
    assert rows[b"m1"][b"result:decision"] == b"rejected"


@pytest.mark.slow
def test_a_write_after_the_server_dropped_the_idle_socket_succeeds(
    table: HBaseSettings,
) -> None:
    """With proactive reconnection switched off, the stale socket fails and the batch is retried
    on a fresh connection; the replayed rows overwrite, so nothing is duplicated."""
    writer = HBaseWriter(HBaseSettings(**{**table.__dict__, "max_idle_s": 10_000.0}))
    approve = Outcome("approve", probability_of_default=0.02, model_version="v1")
    assert writer.write([applicant("A"), applicant("B")], [approve, approve]) == 2
    time.sleep(IDLE_LONGER_THAN_THE_SERVER_ALLOWS_S)
    rejected = Outcome("rejected", rule="grade", detail="grade F")
    assert writer.write([applicant("B"), applicant("C")], [rejected, rejected]) == 2
    assert writer.dropped_connections == 1  # the server had closed the idle socket
    writer.close()
    rows = stored(table)
    assert sorted(rows) == [b"A", b"B", b"C"]
    assert rows[b"B"][b"result:decision"] == b"rejected"
    assert rows[b"A"][b"result:probability_of_default"] == b"0.02"
