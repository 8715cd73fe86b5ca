"""The spout's offset bookkeeping: commit only the contiguous acknowledged prefix."""

from __future__ import annotations

import pytest

from lendstream.pipeline.offsets import MAX_REPLAY_DELAY_S, OffsetLedger, RecordBuffer, replay_delay


def batch_of(ledger: OffsetLedger, partition: int, first: int, last: int) -> str:
    entries = [(o, f"r{o}") for o in range(first, last + 1)]
    return ledger.new_batch({partition: entries}).batch_id


def test_nothing_to_commit_until_the_first_batch_is_acked() -> None:
    ledger = OffsetLedger()
    ledger.start_partition(0, None)
    first = batch_of(ledger, 0, 0, 9)
    second = batch_of(ledger, 0, 10, 19)
    ledger.ack(second)
    assert ledger.commit_points() == {}
    ledger.ack(first)
    assert ledger.commit_points() == {0: 20}


def test_out_of_order_acks_commit_only_the_contiguous_prefix() -> None:
    ledger = OffsetLedger()
    ledger.start_partition(3, 100)
    ids = [batch_of(ledger, 3, start, start + 4) for start in range(100, 130, 5)]
    for batch_id in (ids[0], ids[1], ids[3], ids[4]):
        ledger.ack(batch_id)
    assert ledger.commit_points() == {3: 110}
    ledger.committed({3: 110})
    assert ledger.commit_points() == {}
    ledger.ack(ids[2])
    assert ledger.commit_points() == {3: 125}
    assert len(ledger) == 1  # ids[5] still pending


def test_partitions_are_independent() -> None:
    ledger = OffsetLedger()
    ledger.start_partition(0, None)
    ledger.start_partition(1, None)
    a = batch_of(ledger, 0, 0, 4)
    batch_of(ledger, 1, 0, 4)
    ledger.ack(a)
    assert ledger.commit_points() == {0: 5}


def test_an_unconfirmed_commit_is_offered_again() -> None:
    ledger = OffsetLedger()
    ledger.start_partition(0, None)
    ledger.ack(batch_of(ledger, 0, 0, 4))
    assert ledger.commit_points() == {0: 5}
    # the commit to Kafka failed: committed() was not called
    assert ledger.commit_points() == {0: 5}
    ledger.committed({0: 5})
    assert ledger.commit_points() == {}


def test_gaps_in_offsets_commit_past_the_last_record() -> None:
    ledger = OffsetLedger()
    ledger.start_partition(0, None)
    batch = ledger.new_batch({0: [(3, "a"), (7, "b")]})
    ledger.ack(batch.batch_id)
    assert ledger.commit_points() == {0: 8}


def test_a_batch_across_partitions_holds_back_each_of_them_until_acked() -> None:
    ledger = OffsetLedger()
    ledger.start_partition(0, None)
    ledger.start_partition(1, 50)
    mixed = ledger.new_batch({0: [(0, "a"), (1, "b")], 1: [(50, "c")]})
    only_one = batch_of(ledger, 1, 51, 60)
    assert list(mixed.records) == ["a", "b", "c"]
    assert mixed.ranges == {0: (0, 2), 1: (50, 51)}
    ledger.ack(only_one)
    assert ledger.commit_points() == {}
    ledger.ack(mixed.batch_id)
    assert ledger.commit_points() == {0: 2, 1: 61}


def test_batch_ids_are_unique_even_for_the_same_offsets() -> None:
    ledger = OffsetLedger()
    ledger.start_partition(0, None)
    ledger.start_partition(1, None)
    first = batch_of(ledger, 0, 0, 0)
    second = batch_of(ledger, 1, 0, 0)
    assert first != second


def test_an_empty_batch_is_refused() -> None:
    ledger = OffsetLedger()
    ledger.start_partition(0, None)
    with pytest.raises(ValueError, match="at least one record"):
        ledger.new_batch({0: []})


def test_a_failed_batch_is_replayed_with_the_same_id_and_records() -> None:
    ledger = OffsetLedger()
    ledger.start_partition(0, None)
    first = batch_of(ledger, 0, 0, 2)
    second = batch_of(ledger, 0, 3, 5)
    ledger.ack(second)
    ledger.fail(first)
    replay = ledger.next_replay()
    assert replay is not None
    assert (replay.batch_id, list(replay.records), replay.attempts) == (
        first,
        ["r0", "r1", "r2"],
        2,
    )
    assert ledger.next_replay() is None
    assert ledger.commit_points() == {}  # still blocks the commit of the acked second batch
    ledger.ack(first)
    assert ledger.commit_points() == {0: 6}


def test_a_batch_failing_again_and_again_waits_longer_each_time_up_to_a_cap() -> None:
    assert [replay_delay(attempts) for attempts in range(1, 9)] == [
        0.0,
        0.0,
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        MAX_REPLAY_DELAY_S,
    ]
    assert replay_delay(50) == MAX_REPLAY_DELAY_S
    ledger = OffsetLedger()
    ledger.start_partition(0, None)
    slow = batch_of(ledger, 0, 0, 1)
    other = batch_of(ledger, 0, 2, 3)
    ledger.fail(slow, now=100.0)
    replay = ledger.next_replay(now=100.0)  # the first replay is at once
    assert replay is not None
    assert replay.batch_id == slow
    ledger.fail(slow, now=101.0)  # third delivery: half a second later
    ledger.fail(other, now=101.0)  # an other batch's first replay does not wait behind it
    replay = ledger.next_replay(now=101.0)
    assert replay is not None
    assert replay.batch_id == other
    assert ledger.next_replay(now=101.4) is None
    replay = ledger.next_replay(now=101.5)
    assert replay is not None
    assert (replay.batch_id, replay.attempts) == (slow, 3)
    ledger.fail(slow, now=102.0)
    ledger.ack(slow)  # acked while waiting (a late ack of an earlier delivery): not replayed
    assert ledger.next_replay(now=200.0) is None


def test_acks_and_fails_of_unknown_or_acked_batches_are_ignored() -> None:
    ledger = OffsetLedger()
    ledger.start_partition(0, None)
    batch_id = batch_of(ledger, 0, 0, 0)
    ledger.ack(batch_id)
    ledger.ack(batch_id)
    ledger.fail(batch_id)
    ledger.fail("99@9:0-0")
    assert ledger.next_replay() is None
    assert ledger.commit_points() == {0: 1}


def test_a_batch_behind_the_last_one_is_refused() -> None:
    ledger = OffsetLedger()
    ledger.start_partition(0, None)
    batch_of(ledger, 0, 10, 19)
    with pytest.raises(ValueError, match="not after offset 20"):
        batch_of(ledger, 0, 15, 25)


def test_the_buffer_is_ready_when_full() -> None:
    buffer = RecordBuffer(max_records=3, linger_s=10.0)
    buffer.add(0, [(0, "a"), (1, "b")], now=100.0)
    assert (buffer.ready(100.0), buffer.room) == (False, 1)
    buffer.add(2, [(7, "c")], now=100.1)
    assert buffer.ready(100.1)
    assert buffer.take() == {0: [(0, "a"), (1, "b")], 2: [(7, "c")]}
    assert (len(buffer), buffer.room, buffer.ready(200.0)) == (0, 3, False)


def test_the_buffer_is_ready_when_its_first_record_waited_the_linger() -> None:
    buffer = RecordBuffer(max_records=500, linger_s=0.25)
    buffer.add(1, [], now=1.0)  # an empty poll does not start the clock
    buffer.add(1, [(5, "a")], now=2.0)
    buffer.add(1, [(6, "b")], now=2.125)
    assert not buffer.ready(2.125)
    assert buffer.ready(2.25)
    ledger = OffsetLedger()
    ledger.start_partition(1, 5)
    batch = ledger.new_batch(buffer.take())
    assert (batch.ranges, list(batch.records)) == ({1: (5, 7)}, ["a", "b"])


def test_an_idle_topology_gets_what_was_polled_at_once() -> None:
    buffer = RecordBuffer(max_records=500, linger_s=0.05)
    assert not buffer.ready(1.0, eager=True)  # nothing to send
    buffer.add(0, [(1, "a")], now=1.0)
    assert not buffer.ready(1.001)  # busy: keep gathering up to the linger
    assert buffer.ready(1.001, eager=True)
