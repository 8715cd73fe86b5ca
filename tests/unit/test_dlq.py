"""`lendstream dlq`'s pure logic: reading dead letters, choosing them, what a re-drive publishes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from lendstream import cli
from lendstream.dlq import (
    Letter,
    Selection,
    letter_line,
    parse_arguments,
    parse_letters,
    redrive_key,
    redrive_payload,
    run_command,
    selection_of,
)
from lendstream.kafka_topics import KafkaRecord
from lendstream.pipeline.dead_letter import DeadLetter, Source

TOPIC = "lendstream.applicants"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def message(letter: DeadLetter, offset: int, at_ms: int = T0) -> KafkaRecord:
    value = json.dumps(letter.message_value()).encode()
    return KafkaRecord(0, offset, at_ms, letter.message_key(), value)


def letters(*dead: tuple[DeadLetter, int]) -> list[Letter]:
    parsed, unreadable = parse_letters(message(d, i, at) for i, (d, at) in enumerate(dead))
    assert unreadable == 0
    return parsed


CLEAN = DeadLetter(
    "funded_amnt must be a positive amount, got 0",
    "clean",
    {"member_id": "m1", "funded_amnt": "0"},
    Source(TOPIC, 1, 10),
    "m1",
)
SCORE = DeadLetter(
    "risk service refused it: HTTP 422: int_rate: too high",
    "score",
    {"member_id": "m2", "int_rate": "99%"},
    Source(TOPIC, 0, 4),
    "m2",
)
PARSE = DeadLetter(
    "value is not JSON: Expecting value", "parse", "not json", Source(TOPIC, 2, 7), None
)
BINARY = DeadLetter("value is not UTF-8 text", "parse", "\\xff\\xfe", Source(TOPIC, 2, 8), None)


def test_copies_of_a_dead_letter_are_one_letter_and_other_messages_are_counted() -> None:
    messages = [message(CLEAN, 0), message(SCORE, 1), message(CLEAN, 2, T0 + 5)]
    messages.append(KafkaRecord(0, 3, T0, None, b"not a dead letter"))
    messages.append(KafkaRecord(0, 4, T0, None, b'{"source": {"topic": "t"}}'))
    parsed, unreadable = parse_letters(messages)
    assert unreadable == 2
    assert [(letter.source, letter.copies, letter.offset) for letter in parsed] == [
        ((TOPIC, 0, 4), 1, 1),
        ((TOPIC, 1, 10), 2, 0),
    ]
    assert parsed[1].member_id == "m1"
    assert parsed[1].as_dict()["dead_lettered_at"] == "2026-01-01T00:00:00.000+00:00"


def test_a_selection_matches_only_when_every_filter_does() -> None:
    found = letters((CLEAN, T0), (SCORE, T0 + 60_000), (PARSE, T0 + 120_000))
    minute = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)

    def chosen(**filters: Any) -> list[str]:
        return [letter.stage for letter in Selection(**filters).choose(found)]

    assert chosen() == ["clean", "score", "parse"]
    assert chosen(stages=frozenset({"score", "parse"})) == ["score", "parse"]
    assert chosen(reason="HTTP 422") == ["score"]
    assert chosen(reason="POSITIVE") == ["clean"]
    assert chosen(since=minute) == ["score", "parse"]
    assert chosen(until=minute) == ["clean"]
    assert chosen(sources=frozenset({(1, 10), (2, 7)})) == ["clean", "parse"]
    assert chosen(members=frozenset({"m2"})) == ["score"]
    assert chosen(stages=frozenset({"clean"}), reason="HTTP") == []
    assert chosen(limit=2) == ["clean", "score"]


def test_the_command_line_builds_the_selection() -> None:
    args = parse_arguments(
        [
            "redrive",
            "--stage",
            "score",
            "--stage",
            "clean",
            "--reason",
            "422",
            "--source",
            "0:4",
            "--since",
            "2026-01-01T00:00",
            "--member",
            "m2",
            "--dry-run",
        ]
    )
    selection = selection_of(args)
    assert selection.stages == {"score", "clean"}
    assert selection.sources == {(0, 4)}
    assert selection.since == datetime(2026, 1, 1, tzinfo=UTC)
    assert selection.members == {"m2"}
    assert args.dry_run
    assert not args.again
    with pytest.raises(SystemExit):
        parse_arguments(["list", "--source", "four"])
    with pytest.raises(SystemExit):
        parse_arguments(["list", "--stage", "save"])


def test_a_redrive_publishes_the_original_record_keyed_by_member() -> None:
    found = letters((CLEAN, T0), (SCORE, T0 + 1), (PARSE, T0 + 2), (BINARY, T0 + 3))
    clean, score, parse, binary = found
    assert json.loads(redrive_payload(clean) or b"") == {"member_id": "m1", "funded_amnt": "0"}
    assert redrive_key(clean) == b"m1"
    assert redrive_key(score) == b"m2"
    assert redrive_payload(parse) == b"not json"  # the text as consumed
    assert redrive_key(parse) is None
    assert redrive_payload(binary) is None  # only a preview of the bytes was kept


def test_the_member_id_of_the_record_keys_a_letter_without_a_key() -> None:
    keyless = DeadLetter("r", "score", {"member_id": 42}, Source(TOPIC, 0, 1), None)
    (letter,) = letters((keyless, T0))
    assert redrive_key(letter) == b"42"


def test_a_line_names_time_stage_source_member_and_reason() -> None:
    (letter,) = letters((SCORE, T0))
    assert letter_line(letter) == (
        "2026-01-01 00:00:00  score  lendstream.applicants/0/4  m2  "
        "risk service refused it: HTTP 422: int_rate: too high"
    )


def test_lendstream_dlq_is_a_command() -> None:
    args = cli.parse(["dlq", "list", "--stage", "clean"])
    assert (args.command, args.stage, args.run) == ("list", ["clean"], run_command)
