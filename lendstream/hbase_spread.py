"""How a table's rows and writes spread over its regions and RegionServers.

``python -m lendstream.hbase_spread --thrift HOST:PORT --table members [--rows]
[--regionserver-info HOST:PORT ...]``, run where the Thrift server and the RegionServers' web ports
answer (the controller for the single-machine stack; on the cluster a supervisor, through its own
Thrift server on 127.0.0.1 — the only address it listens on — while the firewall lets only
cluster members reach the RegionServers' web ports). Prints, per RegionServer,
its regions of the table and the write requests they served (each RegionServer's
``/jmx`` bean ``RegionServer,sub=Regions``, attribute
``Namespace_<ns>_table_<table>_region_<encoded>_metric_writeRequestCount``: counted since the
region opened there), and with ``--rows`` the rows each region holds (a key-only scan).
The bench prints the same for the table its topology wrote.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import happybase

REGIONS_BEAN = "Hadoop:service=HBase,name=RegionServer,sub=Regions"
KEYS_ONLY = "KeyOnlyFilter() AND FirstKeyOnlyFilter()"
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RegionSpread:
    encoded: str  # the region's encoded name (the last part of its name)
    start_key: str
    server: str  # the RegionServer's host, as the Thrift server reports it
    rows: int | None = None
    writes: int | None = None


def encoded_name(region_name: bytes) -> str:
    """``table,start,id.encoded.`` → ``encoded``."""
    return region_name.decode("utf-8", "backslashreplace").rstrip(".").rsplit(".", 1)[-1]


def region_writes(
    bean: Mapping[str, Any], table: str, namespace: str = "default"
) -> dict[str, int]:
    """Write requests per encoded region of ``table`` in one RegionServer's Regions bean."""
    pattern = re.compile(
        rf"Namespace_{re.escape(namespace)}_table_{re.escape(table)}"
        r"_region_([0-9a-f]+)_metric_writeRequestCount"
    )
    writes = {}
    for name, value in bean.items():
        match = pattern.fullmatch(name)
        if match:
            writes[match.group(1)] = int(value)
    return writes


def regionserver_writes(info: str, table: str, timeout_s: float = TIMEOUT_S) -> dict[str, int]:
    """Write requests per encoded region of ``table`` on the RegionServer whose web UI is
    ``info`` (host:port)."""
    url = f"http://{info}/jmx?qry={REGIONS_BEAN}"
    with urllib.request.urlopen(url, timeout=timeout_s) as answer:
        beans = json.load(answer)["beans"]
    return region_writes(beans[0], table) if beans else {}


def rows_per_region(
    table: happybase.Table, start_keys: Sequence[bytes], batch_size: int = 5000
) -> list[int]:
    """Rows in each region (``start_keys`` in key order, the first b""), by a key-only scan."""
    counts = [0] * len(start_keys)
    index = 0
    for key, _ in table.scan(filter=KEYS_ONLY, batch_size=batch_size):
        while index + 1 < len(start_keys) and key >= start_keys[index + 1]:
            index += 1
        counts[index] += 1
    return counts


def spread(
    host: str,
    port: int,
    table_name: str,
    regionserver_infos: Iterable[str] = (),
    count_rows: bool = False,
) -> list[RegionSpread]:
    """Each region of the table, in key order, with its server, and its rows and writes when
    asked for (writes only for regions found on the given RegionServers)."""
    connection = happybase.Connection(host, port, timeout=120_000)
    try:
        table = connection.table(table_name)
        regions = sorted(table.regions(), key=lambda region: region["start_key"])
        starts = [region["start_key"] for region in regions]
        rows: list[int | None] = (
            list(rows_per_region(table, starts)) if count_rows else [None] * len(regions)
        )
    finally:
        connection.close()
    writes: dict[str, int] = {}
    for info in regionserver_infos:
        writes.update(regionserver_writes(info, table_name))
    return [
        RegionSpread(
            encoded_name(region["name"]),
            region["start_key"].decode("utf-8", "backslashreplace"),
            region["server_name"].decode(),
            count,
            writes.get(encoded_name(region["name"])),
        )
        for region, count in zip(regions, rows, strict=True)
    ]


def by_server(regions: Sequence[RegionSpread]) -> dict[str, dict[str, int]]:
    """Per RegionServer: its regions, rows and write requests (unknown counts as 0)."""
    servers: dict[str, dict[str, int]] = {}
    for region in regions:
        totals = servers.setdefault(region.server, {"regions": 0, "rows": 0, "writes": 0})
        totals["regions"] += 1
        totals["rows"] += region.rows or 0
        totals["writes"] += region.writes or 0
    return dict(sorted(servers.items()))


def render(table: str, regions: Sequence[RegionSpread]) -> str:
    lines = [f"{table}: {len(regions)} regions"]
    for region in regions:
        rows = "-" if region.rows is None else str(region.rows)
        writes = "-" if region.writes is None else str(region.writes)
        lines.append(
            f"  start {region.start_key or '(first)':8} {region.server:24} "
            f"rows {rows:>8}  write requests {writes:>8}"
        )
    for server, totals in by_server(regions).items():
        lines.append(
            f"  RegionServer {server}: {totals['regions']} regions, "
            f"{totals['rows']} rows, {totals['writes']} write requests"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lendstream.hbase_spread")
    parser.add_argument("--thrift", required=True, help="HOST:PORT of a Thrift server")
    parser.add_argument("--table", default="members")
    parser.add_argument("--regionserver-info", action="append", default=[], metavar="HOST:PORT")
    parser.add_argument("--rows", action="store_true", help="count each region's rows (a scan)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    host, _, port = args.thrift.rpartition(":")
    regions = spread(host, int(port), args.table, args.regionserver_info, args.rows)
    if args.json:
        document = {
            "table": args.table,
            "regions": [asdict(r) for r in regions],
            "servers": by_server(regions),
        }
        json.dump(document, sys.stdout)
        print()
    else:
        print(render(args.table, regions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
