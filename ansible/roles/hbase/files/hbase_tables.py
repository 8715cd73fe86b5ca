#!/usr/bin/env python3
"""Create the missing HBase tables through a Thrift (1) server, with happybase; name the missing
tables that want pre-split regions.

The hbase role runs this on the controller, with the Python that runs Ansible (it has the
lendstream distribution and so happybase): the nodes have no HBase shell (no JRuby in the
bundle) and, when the tables are created, no Python with a Thrift library (the lendstream
virtualenv reaches the Thrift servers' hosts later, with the topology). The Thrift server listens
on its node's loopback only, so with --ssh (the node's Ansible connection variables, JSON) the
script reaches it through an SSH tunnel (lendstream.ssh_tunnel); without, HOST:PORT directly.
Column families get HBase's own defaults (one version, block cache on).

Thrift 1's createTable takes no split keys, so a missing table whose ``regions`` is above 1 is not
created here but listed under "presplit": the caller creates it with HBase's RegionSplitter run
through the role's bin/hbase-tool launcher on an HBase node (tasks/tables.yml; the single-machine
stack's lendstream.stack.provision does the same locally). Prints
{"existing": [...], "created": [...], "presplit": [...], "would_create": [...]}.

With --dry-run (Ansible's check mode) it creates nothing and lists every missing table, either
kind, under "would_create".

Usage: hbase_tables.py HOST PORT TABLES_JSON [--ssh CONNECTION_JSON] [--dry-run]
(TABLES_JSON: [{"name": ..., "column_families": [...], "regions": N}], as hbase_tables;
CONNECTION_JSON: the node's inventory name and ansible_host, ansible_port, ansible_user,
ansible_ssh_private_key_file, ansible_ssh_common_args, ansible_ssh_extra_args: HOST is then the
address the Thrift server listens on as the node sees it, 127.0.0.1)
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import happybase
from Hbase_thrift import AlreadyExists  # the IDL module happybase loads

from lendstream.ssh_tunnel import ansible_ssh_args, local_forward

TIMEOUT_MS = 60_000
FAMILY_OPTIONS = {"max_versions": 1, "block_cache_enabled": True}


def create_missing_tables(
    host: str, port: int, tables: list[dict[str, Any]], *, dry_run: bool = False
) -> dict[str, list[str]]:
    """Create each table of ``tables`` that HBase does not list; report which existed."""
    connection = happybase.Connection(host, port, timeout=TIMEOUT_MS)
    try:
        existing = sorted(name.decode() for name in connection.tables())
        missing = [table for table in tables if table["name"] not in existing]
        if dry_run:
            would_create = [table["name"] for table in missing]
            return {
                "existing": existing,
                "created": [],
                "presplit": [],
                "would_create": would_create,
            }
        created = []
        presplit = []
        for table in missing:
            if int(table.get("regions", 1)) > 1:
                presplit.append(table["name"])
                continue
            families = {family: dict(FAMILY_OPTIONS) for family in table["column_families"]}
            try:
                connection.create_table(table["name"], families)
            except AlreadyExists:  # another run created it since we listed
                continue
            created.append(table["name"])
        return {"existing": existing, "created": created, "presplit": presplit, "would_create": []}
    finally:
        connection.close()


@contextlib.contextmanager
def reached(host: str, port: int, ssh: dict[str, Any] | None) -> Iterator[tuple[str, int]]:
    """Where to connect for ``host:port``: itself, or with ``ssh`` (a node's connection
    variables and its ``inventory_hostname``) a local end of a tunnel to it through that node."""
    if ssh is None:
        yield host, port
        return
    args = ansible_ssh_args(ssh, str(ssh.get("inventory_hostname", "")))
    with local_forward(args, port, remote_host=host) as local_port:
        yield "127.0.0.1", local_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("tables_json")
    parser.add_argument(
        "--dry-run", action="store_true", help="create nothing, list what is missing"
    )
    parser.add_argument(
        "--ssh", help="reach HOST:PORT through this node (its Ansible connection variables, JSON)"
    )
    args = parser.parse_args()
    tables = json.loads(args.tables_json)
    ssh = json.loads(args.ssh) if args.ssh else None
    with reached(args.host, args.port, ssh) as (host, port):
        result = create_missing_tables(host, port, tables, dry_run=args.dry_run)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
