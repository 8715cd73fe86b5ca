"""Counting the record-caused failures of a batch, for bounded replays of a poison batch."""

from __future__ import annotations

import pytest

from lendstream.pipeline.flow import pack
from lendstream.pipeline.poison import DEFAULT_POISON_BATCH_FAILURES, FailureCounts, batch_key
from lendstream.pipeline.topology_conf import TopologyConf


def test_a_batch_is_split_once_it_failed_the_limit_and_forgotten_when_done() -> None:
    counts = FailureCounts(limit=3)
    key = batch_key("batch-a")
    seen = []
    for _ in range(3):
        seen.append(counts.should_split(key))
        counts.failed(key)
    assert seen == [False, False, False]
    assert counts.should_split(key)
    counts.done(key)
    assert not counts.should_split(key)
    assert counts.count(key) == 0


def test_a_limit_of_zero_splits_at_the_first_refusal_and_a_negative_one_is_refused() -> None:
    assert FailureCounts(limit=0).should_split(batch_key("x"))
    with pytest.raises(ValueError, match="0 or more"):
        FailureCounts(limit=-1)


def test_the_oldest_batches_are_forgotten_beyond_capacity() -> None:
    counts = FailureCounts(limit=1, capacity=2)
    keys = [batch_key(f"batch-{i}") for i in range(3)]
    for key in keys:
        counts.failed(key)
    assert len(counts) == 2
    assert [counts.count(key) for key in keys] == [0, 1, 1]
    counts.failed(keys[1])  # a failure makes it the newest again
    counts.failed(batch_key("batch-3"))
    assert [counts.count(key) for key in keys] == [0, 2, 0]


def test_a_replayed_batch_has_the_same_key_and_another_batch_another() -> None:
    assert batch_key(pack([])) == batch_key(pack([]))
    assert batch_key("a") != batch_key("b")
    assert len(batch_key("a" * 100_000)) == 16


def test_the_limit_is_a_topology_option_with_a_default() -> None:
    assert TopologyConf().poison_batch_failures == DEFAULT_POISON_BATCH_FAILURES == 3
    conf = TopologyConf.from_storm_conf({"lendstream.poison_batch_failures": "5"})
    assert conf.poison_batch_failures == 5
    assert conf.as_storm_options()["lendstream.poison_batch_failures"] == 5
