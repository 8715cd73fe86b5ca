"""The members table's row key (lendstream.pipeline.hbase_writer.member_row_key): a salt computed
from the member id alone, so replays land on the same row, spreading both id shapes evenly over
the regions the hbase role pre-splits the table into (its RegionSplitter key range)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from lendstream.pipeline.flow import Applicant
from lendstream.pipeline.hbase_writer import (
    SALT_BUCKETS,
    SALT_DIGITS,
    member_id_of,
    member_row_key,
    region_of,
    row_key,
    salt,
    split_keys,
)

ROLE = Path(__file__).resolve().parents[2] / "ansible/roles/hbase"
REAL_IDS = [f"LC16Q1-{n:06d}" for n in range(1, 12_001)]
SYNTHETIC_IDS = [f"SYN-7-{n}" for n in range(12_000)]


def test_the_key_is_the_salt_then_the_member_id_and_names_it_back() -> None:
    key = member_row_key("LC16Q1-000001")
    assert key == f"{salt('LC16Q1-000001')}:LC16Q1-000001".encode()
    assert len(salt("LC16Q1-000001")) == SALT_DIGITS
    assert member_id_of(key) == "LC16Q1-000001"
    # a row someone else wrote (no salt, or a salt that is not its id's) is named by its whole key
    assert member_id_of(b"not-from-this-topic") == "not-from-this-topic"
    assert member_id_of(b"0000:LC16Q1-000001") == "0000:LC16Q1-000001"


def test_the_salt_is_stable_so_a_replay_writes_the_same_row() -> None:
    # fixed values: a change of hash or width would re-key every stored row
    assert member_row_key("LC16Q1-000001") == b"becf:LC16Q1-000001"
    assert member_row_key("SYN-7-42") == b"276e:SYN-7-42"
    replayed = Applicant("SYN-7-42", "{}", "{}", 1, 0, 9)
    assert row_key(replayed) == row_key(Applicant("SYN-7-42", "{}", "{}", 2, 3, 4))


def test_split_keys_are_hexstringsplit_between_the_role_s_first_and_last_row() -> None:
    values = yaml.safe_load((ROLE / "vars/main.yml").read_text())
    first, last = values["__hbase_split_first_row"], values["__hbase_split_last_row"]
    assert (int(first, 16), int(last, 16), len(last)) == (0, SALT_BUCKETS - 1, SALT_DIGITS)
    assert split_keys(1) == []
    assert split_keys(4) == [b"3fff", b"7ffe", b"bffd"]
    assert len(split_keys(12)) == 11


def test_both_id_shapes_spread_evenly_over_the_default_regions() -> None:
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    regions = next(t["regions"] for t in defaults["hbase_tables"] if t["name"] == "members")
    splits = split_keys(regions)
    for ids in (REAL_IDS, SYNTHETIC_IDS):
        per_region = Counter(region_of(member_row_key(member_id), splits) for member_id in ids)
        assert sorted(per_region) == list(range(regions))
        expected = len(ids) / regions
        assert max(abs(count - expected) for count in per_region.values()) < 0.1 * expected
