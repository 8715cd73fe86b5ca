"""Triage of Kafka records into items or dead letters, rules, scoring of a batch, DLQ messages."""

from __future__ import annotations

import json

from applicants import raw_applicant
from scripted_risk_service import TOKEN, ScriptedRiskService

from lendstream.pipeline.dead_letter import DeadLetter, Source
from lendstream.pipeline.flow import (
    REJECTED,
    SourceRecord,
    apply_rules,
    apply_scores,
    triage,
    triage_all,
)
from lendstream.pipeline.scoring import RiskServiceClient, RiskServiceSettings

TOPIC = "lendstream.applicants"


def record(value: bytes | None, offset: int = 7, partition: int = 2) -> SourceRecord:
    return SourceRecord.from_bytes(TOPIC, partition, offset, 1_700_000_000_123, value)


def encoded(raw: object) -> bytes:
    return json.dumps(raw).encode()


def test_a_valid_record_becomes_an_item_with_its_source_and_timestamp() -> None:
    value = encoded(raw_applicant("M-9"))
    item = triage(record(value))
    assert not isinstance(item, DeadLetter)
    assert item["member_id"] == "M-9"
    assert item["raw"] == value.decode()
    assert item["clean"]["int_rate"] == 13.99
    assert (item["partition"], item["offset"], item["kafka_timestamp_ms"]) == (
        2,
        7,
        1_700_000_000_123,
    )


def test_a_record_that_is_not_json_is_dead_lettered_at_parse() -> None:
    truncated = '{"member_id": "M-1", '
    letter = triage(record(truncated.encode()))
    assert isinstance(letter, DeadLetter)
    assert (letter.stage, letter.member_id, letter.record) == ("parse", None, truncated)
    assert letter.reason.startswith("value is not JSON")
    assert letter.source == Source(TOPIC, 2, 7)


def test_a_record_that_is_not_utf8_is_dead_lettered_with_a_readable_copy() -> None:
    letter = triage(record(b"\xff\xfe{}"))
    assert isinstance(letter, DeadLetter)
    assert (letter.stage, letter.reason, letter.record) == (
        "parse",
        "value is not UTF-8 text",
        "\\xff\\xfe{}",
    )


def test_a_null_value_and_a_json_array_are_dead_lettered() -> None:
    null = triage(record(None))
    array = triage(record(b"[1, 2]"))
    assert isinstance(null, DeadLetter)
    assert isinstance(array, DeadLetter)
    assert null.reason == "value is missing"
    assert (array.stage, array.reason) == ("clean", "record is not a JSON object but list")


def test_a_record_that_cannot_be_cleaned_keeps_its_member_id_and_reason() -> None:
    raw = raw_applicant("M-2", annual_inc="lots")
    letter = triage(record(encoded(raw)))
    assert isinstance(letter, DeadLetter)
    assert (letter.stage, letter.member_id, letter.record) == ("clean", "M-2", raw)
    assert letter.reason == "annual_inc is not a number: 'lots'"


def test_the_dead_letter_message_follows_the_contract() -> None:
    raw = raw_applicant("M-3", term=" 48 months")
    letter = triage(record(encoded(raw), offset=41, partition=0))
    assert isinstance(letter, DeadLetter)
    assert letter.message_key() == b"M-3"
    assert letter.message_value() == {
        "reason": "term must be 36 or 60 months, got ' 48 months'",
        "stage": "clean",
        "record": raw,
        "source": {"topic": TOPIC, "partition": 0, "offset": 41},
    }
    assert DeadLetter.from_dict(json.loads(json.dumps(letter.as_dict()))) == letter


def test_a_dead_letter_without_member_id_has_no_key() -> None:
    letter = triage(record(b"garbage"))
    assert isinstance(letter, DeadLetter)
    assert letter.message_key() is None


def test_source_records_survive_the_tuple_round_trip() -> None:
    original = record(b"\xff")
    assert SourceRecord.from_list(json.loads(json.dumps(original.as_list()))) == original


def test_a_batch_is_split_into_items_and_dead_letters_in_order() -> None:
    records = [
        record(encoded(raw_applicant("A")), offset=1),
        record(b"nope", offset=2),
        record(encoded(raw_applicant("B")), offset=3),
    ]
    items, letters = triage_all(records)
    assert [i["member_id"] for i in items] == ["A", "B"]
    assert [letter.source.offset for letter in letters] == [2]


def test_rules_mark_rejections_and_scoring_decides_the_rest(
    risk_service: ScriptedRiskService,
) -> None:
    items, _ = triage_all(
        [
            record(encoded(raw_applicant("ok-low", int_rate=" 7.5%")), offset=1),
            record(encoded(raw_applicant("grade-f", grade="F", sub_grade="F1")), offset=2),
            record(encoded(raw_applicant("poor", annual_inc="19999.99")), offset=3),
            record(encoded(raw_applicant("ok-high", int_rate=" 25%")), offset=4),
        ]
    )
    decided = apply_rules(items)
    assert [i.get("decision") for i in decided] == [None, REJECTED, REJECTED, None]
    assert [i.get("rule") for i in decided] == [None, "grade", "low_income", None]
    client = RiskServiceClient(RiskServiceSettings(risk_service.url, TOKEN))
    scored = apply_scores(decided, client)
    assert [i["decision"] for i in scored] == ["approve", REJECTED, REJECTED, "decline"]
    assert [len(r["applicants"]) for r in risk_service.requests] == [2]
    assert scored[0]["probability_of_default"] == 0.075
    assert scored[0]["model_version"] == "test-1"
    assert "probability_of_default" not in scored[1]


def test_a_batch_of_only_rejections_makes_no_request(risk_service: ScriptedRiskService) -> None:
    items, _ = triage_all([record(encoded(raw_applicant("g", grade="G", sub_grade="G2")))])
    client = RiskServiceClient(RiskServiceSettings(risk_service.url, TOKEN))
    assert apply_scores(apply_rules(items), client)[0]["decision"] == REJECTED
    assert risk_service.requests == []
