"""Triage of Kafka records into items or dead letters, rules, scoring of a batch, DLQ messages."""

from __future__ import annotations

import json

import pytest
from applicants import raw_applicant
from scripted_risk_service import TOKEN, ScriptedRiskService, contract_answer

from lendstream.pipeline.dead_letter import DeadLetter, Source
from lendstream.pipeline.flow import (
    REJECTED,
    Applicant,
    Outcome,
    SourceRecord,
    apply_rules,
    apply_scores,
    divert,
    pack,
    pack_outcomes,
    pack_records,
    score_batch,
    triage,
    triage_all,
    unpack,
    unpack_outcomes,
    unpack_records,
)
from lendstream.pipeline.rules import clean, decide
from lendstream.pipeline.scoring import (
    RiskServiceClient,
    RiskServiceSettings,
    ScoringRejectedError,
)

TOPIC = "lendstream.applicants"


def record(value: bytes | None, offset: int = 7, partition: int = 2) -> SourceRecord:
    return SourceRecord.from_bytes(TOPIC, partition, offset, 1_700_000_000_123, value)


def encoded(raw: object) -> bytes:
    return json.dumps(raw).encode()


def test_a_valid_record_becomes_an_applicant_with_its_source_and_timestamp() -> None:
    value = encoded(raw_applicant("M-9"))
    applicant = triage(record(value))
    assert isinstance(applicant, Applicant)
    assert applicant.member_id == "M-9"
    assert applicant.raw == value.decode()
    assert applicant.clean() == clean(raw_applicant("M-9"))
    assert json.loads(applicant.clean_json) == clean(raw_applicant("M-9")).as_dict()
    assert (applicant.partition, applicant.offset, applicant.kafka_timestamp_ms) == (
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


def test_batches_survive_the_tuple_round_trip() -> None:
    records = [record(b"\xff", offset=1), record(encoded(raw_applicant("Z")), offset=2)]
    assert unpack_records(json.loads(json.dumps(pack_records(records)))) == records
    applicants, _ = triage_all(records)
    assert unpack(json.loads(json.dumps(pack(applicants)))) == applicants
    outcomes = [
        None,
        Outcome(REJECTED, "grade", "grade F"),
        Outcome("approve", None, None, 0.1, "v"),
    ]
    assert unpack_outcomes(json.loads(json.dumps(pack_outcomes(outcomes))), 3) == outcomes
    assert unpack_outcomes(None, 2) == [None, None]


def test_a_packed_batch_is_short_plain_text_and_the_same_for_a_replay() -> None:
    """What the worker JVM carries: no character its JSON library must escape, far shorter
    than the batch's JSON, and the same text when the same records are packed again (a replay:
    the poison count and the score bolt's fields grouping go by it)."""
    raws = [raw_applicant(f"M-{i}") | {"addr_state": "\u00e9\ud800"} for i in range(200)]
    records = [record(encoded(raw), offset=i) for i, raw in enumerate(raws)]
    applicants, dead_letters = triage_all(records)
    assert len(applicants) == 200
    assert not dead_letters
    assert applicants[0].clean().addr_state == "\u00e9\ud800"  # a lone surrogate, kept
    for packed, batch, unpacked in [
        (pack(applicants), applicants, unpack),
        (pack_records(records), records, unpack_records),
    ]:
        assert packed.isascii()
        assert packed.isprintable()
        assert not set(packed) & set('"\\/')
        assert unpacked(json.loads(json.dumps(packed))) == batch
        assert len(packed) * 4 < len(json.dumps([item.as_list() for item in batch]))
    assert pack(triage_all(records)[0]) == pack(applicants)


def test_a_batch_is_split_into_items_and_dead_letters_in_order() -> None:
    records = [
        record(encoded(raw_applicant("A")), offset=1),
        record(b"nope", offset=2),
        record(encoded(raw_applicant("B")), offset=3),
    ]
    applicants, letters = triage_all(records)
    assert [a.member_id for a in applicants] == ["A", "B"]
    assert [letter.source.offset for letter in letters] == [2]


def test_rules_mark_rejections_and_scoring_decides_the_rest(
    risk_service: ScriptedRiskService,
) -> None:
    applicants, _ = triage_all(
        [
            record(encoded(raw_applicant("ok-low", int_rate=" 7.5%")), offset=1),
            record(encoded(raw_applicant("grade-f", grade="F", sub_grade="F1")), offset=2),
            record(encoded(raw_applicant("poor", annual_inc="19999.99")), offset=3),
            record(encoded(raw_applicant("ok-high", int_rate=" 25%")), offset=4),
        ]
    )
    decided = apply_rules(applicants)
    assert [o and o.decision for o in decided] == [None, REJECTED, REJECTED, None]
    assert [o and o.rule for o in decided] == [None, "grade", "low_income", None]
    client = RiskServiceClient(RiskServiceSettings(risk_service.url, TOKEN))
    scored = apply_scores(applicants, decided, client)
    assert [o.decision for o in scored] == ["approve", REJECTED, REJECTED, "decline"]
    assert [len(r["applicants"]) for r in risk_service.requests] == [2]
    assert risk_service.requests[0]["applicants"][0] == json.loads(applicants[0].clean_json)
    assert scored[0].probability_of_default == 0.075
    assert scored[0].model_version == "test-1"
    assert scored[1].probability_of_default is None


def test_the_decide_stage_rules_as_the_typed_clean_record_would() -> None:
    """apply_rules reads grade and income from the clean JSON: the same outcome, rule and detail
    as rules.decide on the typed record, at and around every rule's edge."""
    raws = [
        raw_applicant(f"M-{grade}-{income}", grade=grade, sub_grade=f"{grade}3", annual_inc=income)
        for grade in "ABCDEFG"
        for income in ["19999.994", "19999.995", "20000", "20000.0", "1e5", "0", " 78,000 "]
    ]
    applicants, dead_letters = triage_all([record(encoded(raw)) for raw in raws])
    assert not dead_letters
    expected = [decide(applicant.clean()) for applicant in applicants]
    assert [o and (o.decision, o.rule, o.detail) for o in apply_rules(applicants)] == [
        r and (REJECTED, r.rule, r.detail) for r in expected
    ]
    assert {r and r.rule for r in expected} == {None, "grade", "low_income"}


def test_a_batch_of_only_rejections_makes_no_request(risk_service: ScriptedRiskService) -> None:
    applicants, _ = triage_all([record(encoded(raw_applicant("g", grade="G", sub_grade="G2")))])
    client = RiskServiceClient(RiskServiceSettings(risk_service.url, TOKEN))
    assert apply_scores(applicants, apply_rules(applicants), client)[0].decision == REJECTED
    assert risk_service.requests == []


def problems(*indices: int | None) -> dict[str, object]:
    listed = [{"index": i, "field": "int_rate", "problem": "not liked"} for i in indices]
    return {"error": "invalid", "problems": listed}


def batch_of(*raws: dict[str, object]) -> list[Applicant]:
    applicants, letters = triage_all(
        [record(encoded(raw), offset=10 + i) for i, raw in enumerate(raws)]
    )
    assert not letters
    return applicants


def test_a_422_naming_one_applicant_refuses_only_it_and_scores_the_rest(
    risk_service: ScriptedRiskService,
) -> None:
    def refuse_the_bad_one(body: dict[str, object]) -> tuple[int, object]:
        ids = [a["member_id"] for a in body["applicants"]]  # type: ignore[attr-defined]
        if "bad" in ids:
            return 422, problems(ids.index("bad"))
        return contract_answer(body)

    risk_service.script = [refuse_the_bad_one]
    applicants = batch_of(
        raw_applicant("a"),
        raw_applicant("g", grade="G", sub_grade="G1"),
        raw_applicant("bad"),
        raw_applicant("c"),
    )
    client = RiskServiceClient(RiskServiceSettings(risk_service.url, TOKEN))
    outcomes, refused = score_batch(applicants, apply_rules(applicants), client, split=False)
    assert set(refused) == {2}
    assert refused[2] == "risk service refused it: HTTP 422: int_rate: not liked"
    assert [len(r["applicants"]) for r in risk_service.requests] == [3, 2]
    kept, kept_outcomes, letters = divert(applicants, outcomes, refused, TOPIC)
    assert [a.member_id for a in kept] == ["a", "g", "c"]
    assert [o.decision for o in kept_outcomes] == ["review", REJECTED, "review"]
    assert [(d.member_id, d.stage, d.source, d.reason) for d in letters] == [
        ("bad", "score", Source(TOPIC, 2, 12), refused[2])
    ]
    assert letters[0].record == json.loads(applicants[2].raw)


def test_a_refusal_naming_nobody_is_raised_until_the_batch_may_be_split(
    risk_service: ScriptedRiskService,
) -> None:
    def refuse_the_poison(body: dict[str, object]) -> tuple[int, object]:
        ids = [a["member_id"] for a in body["applicants"]]  # type: ignore[attr-defined]
        return (400, {"error": "cannot score"}) if "poison" in ids else contract_answer(body)

    risk_service.script = [refuse_the_poison]
    names = ["a", "b", "poison", "c", "d", "e", "f"]
    applicants = batch_of(*(raw_applicant(name) for name in names))
    client = RiskServiceClient(RiskServiceSettings(risk_service.url, TOKEN, max_attempts=3))
    with pytest.raises(ScoringRejectedError, match="HTTP 400") as refusal:
        score_batch(applicants, apply_rules(applicants), client, split=False)
    assert refusal.value.named == {}
    assert len(risk_service.requests) == 1  # a refusal is not retried in place
    outcomes, refused = score_batch(applicants, apply_rules(applicants), client, split=True)
    assert list(refused) == [2]
    assert refused[2].startswith("risk service refused it alone: ")
    assert "HTTP 400" in refused[2]
    assert [o is None for o in outcomes] == [name == "poison" for name in names]
    # whole batch, then halves: [a b poison] fails, [c d e f] scores; then [a] [b poison] …
    assert len(risk_service.requests) - 1 <= 2 * len(names)


def test_a_422_naming_the_request_as_a_whole_names_nobody(
    risk_service: ScriptedRiskService,
) -> None:
    risk_service.script = [lambda _body: (422, problems(None)), lambda _body: (422, problems(9))]
    applicants = batch_of(raw_applicant("a"), raw_applicant("b"))
    client = RiskServiceClient(RiskServiceSettings(risk_service.url, TOKEN))
    for _ in range(2):  # index None, then an index out of the request's range
        with pytest.raises(ScoringRejectedError) as refusal:
            score_batch(applicants, apply_rules(applicants), client, split=False)
        assert refusal.value.named == {}


def test_divert_refuses_an_applicant_neither_scored_nor_refused() -> None:
    applicants = batch_of(raw_applicant("a"))
    with pytest.raises(ValueError, match="neither scored nor refused"):
        divert(applicants, [None], {}, TOPIC)
