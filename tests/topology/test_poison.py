"""Counting the record-caused failures of a batch, and splitting a poison batch down to the
applicants refused alone (a property test over batch sizes and poison positions)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lendstream.pipeline.flow import Applicant, Outcome, pack, score_batch
from lendstream.pipeline.poison import DEFAULT_POISON_BATCH_FAILURES, FailureCounts, batch_key
from lendstream.pipeline.scoring import Score, ScoringRejectedError
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


class RefusingClient:
    """Scores like the contract, but refuses (HTTP 400, naming nobody) any request holding a
    poison member — a stand-in for the risk service in this pure-logic property test."""

    def __init__(self, poison: set[str]) -> None:
        self.poison = poison
        self.requests: list[list[str]] = []

    def score_clean_json(self, clean_json: Sequence[str], member_ids: Sequence[str]) -> list[Score]:
        self.requests.append(list(member_ids))
        if self.poison & set(member_ids):
            raise ScoringRejectedError("refused", 400, "HTTP 400 cannot score")
        return [Score(member_id, 0.05, "approve", "test") for member_id in member_ids]


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=300),
    poison_positions=st.sets(st.integers(min_value=0, max_value=299), max_size=6),
    decided_positions=st.sets(st.integers(min_value=0, max_value=299), max_size=20),
)
def test_a_split_refuses_exactly_the_poison_and_scores_every_other_applicant(
    size: int, poison_positions: set[int], decided_positions: set[int]
) -> None:
    applicants = [Applicant(f"m{i}", "{}", "{}", 0, 0, i) for i in range(size)]
    rejected = Outcome("rejected", rule="grade", detail="G")
    outcomes: list[Outcome | None] = [
        rejected if i in decided_positions else None for i in range(size)
    ]
    poison = {i for i in poison_positions if i < size and outcomes[i] is None}
    client = RefusingClient({f"m{i}" for i in poison})
    scored, refused = score_batch(applicants, outcomes, client, split=True)  # type: ignore[arg-type]
    assert set(refused) == poison
    assert all(
        reason == "risk service refused it alone: HTTP 400 cannot score"
        for reason in refused.values()
    )
    assert [o is None for o in scored] == [i in poison for i in range(size)]
    assert all(scored[i] == rejected for i in decided_positions if i < size)
    assert not any(f"m{i}" in request for request in client.requests for i in decided_positions)
    undecided = size - len([i for i in decided_positions if i < size])
    bound = 1 + 2 * max(len(poison), 1) * max(1, math.ceil(math.log2(max(undecided, 1))) + 1)
    assert len(client.requests) <= bound
