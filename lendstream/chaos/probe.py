"""Read-only probes run ON a cluster node (the node's lendstream virtualenv), where Kafka's
advertised names resolve and the node's own HBase Thrift server listens (127.0.0.1 only):
``python -m lendstream.chaos.probe …``.

- ``topic-size``: how many records the applicant topic has held (its end offsets).
- ``delays --prefix SYN-7-``: for every stored row whose member id starts with the prefix (row
  keys are salted, lendstream.pipeline.hbase_writer.member_row_key: HBase filters on the key's
  ``:<prefix>`` substring, the probe keeps the keys whose member id matches), the Kafka
  record timestamp (``result:kafka_timestamp_ms``) and the HBase cell's write time, in ms. A
  replayed row keeps its last write, so a delay is the time until the row's final state.
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import happybase

from lendstream.kafka_client import operator_security
from lendstream.kafka_topics import end_offsets
from lendstream.pipeline.endpoints import split_list
from lendstream.pipeline.hbase_writer import CONNECTION_ERRORS, SALT_SEPARATOR, member_id_of

TIMESTAMP_COLUMN = b"result:kafka_timestamp_ms"


def topic_size(bootstrap: str, topic: str) -> int:
    """Records the topic has ever held (its partitions' end offsets: nothing is deleted within a
    deployment's retention). Read with the node's operator settings (lendstream.kafka_client)."""
    return sum(end_offsets(bootstrap, topic, operator_security()).values())


def member_prefix_filter(prefix: str) -> str:
    """HBase filter language: rows whose key holds ``:<prefix>`` (a superset of the member ids
    under the prefix, whatever their salt)."""
    quoted = (SALT_SEPARATOR + prefix).replace("'", "''")
    return f"RowFilter(=, 'substring:{quoted}')"


def delays(hosts: str, port: int, table: str, prefix: str) -> list[tuple[int, int]]:
    """(kafka timestamp ms, HBase write time ms) of each row under the prefix, from the first
    Thrift server that answers."""
    failures = []
    for host in split_list(hosts):
        try:
            connection = happybase.Connection(host, port, timeout=30_000, autoconnect=True)
        except CONNECTION_ERRORS as error:
            failures.append(f"{host}: {error}")
            continue
        try:
            rows = connection.table(table).scan(
                filter=member_prefix_filter(prefix),
                columns=[TIMESTAMP_COLUMN],
                include_timestamp=True,
            )
            return [
                (int(cells[TIMESTAMP_COLUMN][0]), int(cells[TIMESTAMP_COLUMN][1]))
                for key, cells in rows
                if TIMESTAMP_COLUMN in cells and member_id_of(key).startswith(prefix)
            ]
        except CONNECTION_ERRORS as error:
            failures.append(f"{host}: {error}")
        finally:
            connection.close()
    raise SystemExit("probe: no HBase Thrift server answered: " + "; ".join(failures))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lendstream.chaos.probe")
    commands = parser.add_subparsers(dest="command", required=True)
    size = commands.add_parser("topic-size")
    size.add_argument("--bootstrap", required=True)
    size.add_argument("--topic", required=True)
    rows = commands.add_parser("delays")
    rows.add_argument("--hbase-hosts", required=True)
    rows.add_argument("--hbase-port", type=int, default=9090)
    rows.add_argument("--table", default="members")
    rows.add_argument("--prefix", required=True)
    args = parser.parse_args(argv)
    result: Any
    if args.command == "topic-size":
        result = {"records": topic_size(args.bootstrap, args.topic)}
    else:
        result = {"rows": delays(args.hbase_hosts, args.hbase_port, args.table, args.prefix)}
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
