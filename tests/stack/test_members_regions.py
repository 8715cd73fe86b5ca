"""The stack's `members` table as the hbase role creates it (RegionSplitter through the role's
bin/hbase-tool, lendstream.stack.provision): pre-split at the row key salt's boundaries, and
applicants of both id shapes written by the pipeline's writer land in every region — counted by
the RegionServer itself (its per-region write requests in /jmx), read back by the reconcile's
reader and the chaos probe's prefix filter by member id."""

from __future__ import annotations

import time
import uuid

import happybase

from lendstream.chaos.probe import delays
from lendstream.hbase_spread import spread
from lendstream.pipeline.flow import Applicant, Outcome
from lendstream.pipeline.hbase_writer import (
    TABLE,
    HBaseSettings,
    HBaseWriter,
    member_row_key,
    split_keys,
)
from lendstream.reconcile.hbase import read_table
from lendstream.stack.layout import StackLayout
from lendstream.stack.provision import hbase_tables
from lendstream.stack.runtime import StackEndpoints

APPLICANTS = 240  # 20 per region on average over 12: every region gets some
JMX_REFRESH_S = 60.0


def test_members_is_pre_split_and_writes_land_in_every_region(stack_hbase: StackEndpoints) -> None:
    host, port = stack_hbase.hbase_thrift_host, stack_hbase.hbase_thrift_port
    layout = StackLayout.default()
    regions = next(t.regions for t in hbase_tables(layout) if t.name == TABLE)
    info = f"{layout.host}:{layout.ports.hbase_regionserver_info}"
    before = spread(host, port, TABLE, [info])
    assert [r.start_key.encode() for r in before] == [b"", *split_keys(regions)]
    assert len(before) == regions > 1

    run = uuid.uuid4().hex[:8]
    ids = [f"LC{run}-{n:06d}" for n in range(APPLICANTS // 2)]
    ids += [f"SYN-{run}-{n}" for n in range(APPLICANTS // 2)]
    applicants = [Applicant(i, "{}", "{}", 1_700_000_000_000, 0, n) for n, i in enumerate(ids)]
    rejected = Outcome("rejected", rule="grade", detail="G")
    writer = HBaseWriter(HBaseSettings(host, port, TABLE))
    try:
        assert writer.write(applicants, [rejected] * len(applicants)) == APPLICANTS
        # a replay rewrites the same rows: no new row appears
        assert writer.write(applicants[:10], [rejected] * 10) == 10
    finally:
        writer.close()
    try:
        # the RegionServer counted writes in every region (its /jmx refreshes every few seconds)
        deadline = time.monotonic() + JMX_REFRESH_S
        grew = [0]
        while min(grew) == 0 and time.monotonic() < deadline:
            time.sleep(1.0)
            after = spread(host, port, TABLE, [info])
            grew = [(a.writes or 0) - (b.writes or 0) for a, b in zip(after, before, strict=True)]
        assert min(grew) > 0, grew
        assert sum(grew) >= APPLICANTS + 10

        stored = read_table([host], port, TABLE)
        ours = {member_id: cells for member_id, cells in stored.items() if run in member_id}
        assert sorted(ours) == sorted(ids)
        assert all(cells[b"member:id"] == m.encode() for m, cells in ours.items())
        assert len(delays(host, port, TABLE, f"SYN-{run}-")) == APPLICANTS // 2
    finally:
        connection = happybase.Connection(host, port)
        try:
            with connection.table(TABLE).batch() as batch:
                for member_id in ids:
                    batch.delete(member_row_key(member_id))
        finally:
            connection.close()
