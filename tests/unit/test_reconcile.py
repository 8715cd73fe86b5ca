"""The pure parts of lendstream.reconcile and lendstream.kafka_topics: triage of the topic,
expectations, the comparison, endpoint probes, the drain test.

The risk service is replaced by a scorer that gives every undecided applicant a fixed score (the
comparison only needs *some* outcome); the real one is exercised by tests/e2e/test_reconcile_cli.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from applicants import raw_applicant
from local_processes import free_port

from lendstream import demo
from lendstream.kafka_topics import KafkaRecord, OffsetsSeen
from lendstream.pipeline.dead_letter import REDRIVE_HEADER, Source
from lendstream.pipeline.flow import Applicant, Outcome
from lendstream.pipeline.hbase_writer import member_row_key, row_cells
from lendstream.reconcile.cli import (
    main,
    parse_arguments,
    probe_endpoints,
    summary_lines,
    with_live_endpoints,
)
from lendstream.reconcile.comparison import compare, refused_positions, row_differences
from lendstream.reconcile.endpoints import broker_address, connect_error, probe, url_address
from lendstream.reconcile.errors import CannotReconcileError
from lendstream.reconcile.expectation import Expectation, expect, triage_published
from lendstream.reconcile.hbase import Rows

TOPIC = "applicants"
MODEL_VERSION = "unit-v1"


def record(partition: int, offset: int, value: Any, timestamp_ms: int = 1_000) -> KafkaRecord:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return KafkaRecord(partition, offset, timestamp_ms + offset, None, data)


def fixed_scorer(applicants: list[Applicant], outcomes: list[Outcome | None]) -> list[Outcome]:
    """Every applicant the rules left undecided gets the same score."""
    assert len(applicants) == len(outcomes)
    return [
        o or Outcome("review", probability_of_default=0.25, model_version=MODEL_VERSION)
        for o in outcomes
    ]


PUBLISHED = [
    record(0, 0, raw_applicant("M-1")),
    record(0, 1, raw_applicant("M-2", grade="F", sub_grade="F1")),  # rejected by the grade rule
    record(1, 0, b"not json at all"),
    record(1, 1, raw_applicant("M-3", funded_amnt="lots")),  # malformed: cleaning fails
    record(1, 2, raw_applicant("M-4")),
]


def expectation() -> Expectation:
    return expect(triage_published(PUBLISHED, TOPIC), fixed_scorer)


def stored_as_expected(expected: Expectation) -> Rows:
    return {m: row_cells(r.applicant, r.outcome) for m, r in expected.rows.items()}


def dead_letters_as_expected(expected: Expectation) -> list[KafkaRecord]:
    return [
        KafkaRecord(0, i, 0, letter.message_key(), json.dumps(letter.message_value()).encode())
        for i, letter in enumerate(expected.dead_letters.values())
    ]


def test_triage_splits_valid_from_malformed_and_keeps_each_members_latest_record() -> None:
    republished = [
        *PUBLISHED,
        record(2, 0, raw_applicant("M-1", annual_inc="99000"), timestamp_ms=9_000),
    ]
    triaged = triage_published(republished, TOPIC)
    assert triaged.published == 6
    assert sorted(triaged.latest) == ["M-1", "M-2", "M-4"]
    assert triaged.latest["M-1"].partition == 2
    assert triaged.superseded == 1
    stages = {p: letter.stage for p, letter in triaged.dead_letters.items()}
    assert stages == {(1, 0): "parse", (1, 1): "clean"}


def test_expect_decides_with_the_rules_then_the_scorer() -> None:
    expected = expectation()
    decisions = {m: r.outcome.decision for m, r in expected.rows.items()}
    assert decisions == {"M-1": "review", "M-2": "rejected", "M-4": "review"}
    assert expected.rows["M-2"].outcome.rule == "grade"


def test_a_refused_applicant_is_a_dead_letter_only_if_the_rules_left_it_to_scoring() -> None:
    triaged = triage_published(PUBLISHED, TOPIC)
    expected = expect(triaged, fixed_scorer, refused_at={(0, 0), (0, 1)})
    assert set(expected.refused) == {(0, 0)}  # M-2 was rejected by a rule: stored regardless
    assert sorted(expected.rows) == ["M-2", "M-4"]


def test_everything_as_expected_reconciles() -> None:
    expected = expectation()
    report = compare(expected, stored_as_expected(expected), dead_letters_as_expected(expected), {})
    assert report.differences == []
    assert report.reconciled
    assert (report.published, report.stored, report.dead_lettered) == (5, 3, 2)
    assert dict(report.decisions) == {"review": 2, "rejected": 1}
    assert dict(report.model_versions) == {MODEL_VERSION: 2}


def test_a_deleted_row_is_a_difference_and_breaks_the_count() -> None:
    expected = expectation()
    rows = stored_as_expected(expected)
    del rows["M-4"]
    report = compare(expected, rows, dead_letters_as_expected(expected), {})
    assert not report.reconciled
    # Named with what finds it in the daemons' logs: row key (salt, so region), record, time.
    key = member_row_key("M-4").decode()
    assert (
        f"row M-4 missing (key {key}, record 1/2 of 1970-01-01 00:00:01.002 UTC; "
        in (report.differences[0])
    )
    assert any(d.startswith("published 5 != stored 2") for d in report.differences)


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        (b"result:decision", b"approve", "result:decision is b'approve'"),
        (b"result:model_version", b"", "result:model_version is b''"),
        (b"result:probability_of_default", b"0.250001", "result:probability_of_default is"),
        (b"member:raw", b"{}", "member:raw is b'{}'"),
        (b"result:rule", b"grade", "unexpected cell result:rule"),
    ],
)
def test_an_altered_or_added_cell_is_a_difference(
    column: bytes, value: bytes, problem: str
) -> None:
    expected = expectation()
    rows = stored_as_expected(expected)
    rows["M-1"][column] = value
    report = compare(expected, rows, dead_letters_as_expected(expected), {})
    assert [d for d in report.differences if problem in d], report.differences
    assert report.stored == 3  # the row is there, only wrong


def test_cells_equal_as_data_are_equal() -> None:
    """The probability within 1e-9 and the clean JSON in another key order are the same."""
    expected = expectation().rows["M-1"]
    cells = row_cells(expected.applicant, expected.outcome)
    cells[b"result:probability_of_default"] = repr(0.25 + 1e-12).encode()
    clean = json.loads(cells[b"member:clean"])
    cells[b"member:clean"] = json.dumps(dict(reversed(list(clean.items())))).encode()
    assert row_differences("M-1", expected, cells) == []
    del cells[b"result:model_version"]
    assert row_differences("M-1", expected, cells) == [
        f"row M-1: result:model_version missing (expected {MODEL_VERSION.encode()!r})"
    ]


def test_rows_scored_by_an_earlier_model_are_checked_on_everything_but_their_score() -> None:
    expected = expectation()
    rows = stored_as_expected(expected)
    earlier = Outcome("decline", probability_of_default=0.9, model_version="unit-v0")
    rows["M-4"] = row_cells(expected.rows["M-4"].applicant, earlier)
    report = compare(expected, rows, dead_letters_as_expected(expected), {0: 0, 1: 0})
    assert report.reconciled, report.differences
    assert dict(report.scored_by_other_models) == {"unit-v0": 1}
    assert any(
        "scored by a model no risk service serves" in line for line in summary_lines(report, 5)
    )

    rows["M-4"] = {**rows["M-4"], b"result:decision": b"rejected"}
    rows["M-1"] = {**row_cells(expected.rows["M-1"].applicant, earlier), b"member:raw": b"{}"}
    report = compare(expected, rows, dead_letters_as_expected(expected), {0: 0, 1: 0})
    assert len(report.differences) == 2, report.differences
    assert report.differences[0].startswith("row M-1: member:raw is b'{}', expected")
    assert report.differences[1] == "row M-4: decision 'rejected' is not a score's"


def test_rows_the_topic_does_not_explain_are_reported_not_wrong() -> None:
    expected = expectation()
    rows = stored_as_expected(expected)
    rows["OLD-1"] = {b"result:decision": b"approve"}
    report = compare(expected, rows, dead_letters_as_expected(expected), {})
    assert report.reconciled
    assert (report.extra_rows, report.extra_row_keys) == (1, ["OLD-1"])


def test_identical_replayed_dead_letters_count_once_and_different_ones_are_wrong() -> None:
    expected = expectation()
    letters = dead_letters_as_expected(expected)
    replayed = [*letters, KafkaRecord(0, 9, 0, letters[0].key, letters[0].value)]
    report = compare(expected, stored_as_expected(expected), replayed, {})
    assert report.reconciled
    assert (report.dead_lettered, report.dead_letter_messages) == (2, 3)
    value = json.loads(letters[0].value or b"")
    altered = json.dumps({**value, "reason": "something else"}).encode()
    differing = [*letters, KafkaRecord(0, 9, 0, letters[0].key, altered)]
    report = compare(expected, stored_as_expected(expected), differing, {})
    assert [d for d in report.differences if "replayed dead letter" in d]


def test_a_missing_or_wrong_dead_letter_is_a_difference() -> None:
    expected = expectation()
    letters = dead_letters_as_expected(expected)
    report = compare(expected, stored_as_expected(expected), letters[:1], {})
    assert [d for d in report.differences if d.startswith("no dead letter for (1, 1)")]
    valid = {
        "reason": "x",
        "stage": "clean",
        "record": {},
        "source": {"topic": TOPIC, "partition": 0, "offset": 0},
    }
    wrong = [*letters, KafkaRecord(0, 5, 0, None, json.dumps(valid).encode())]
    report = compare(expected, stored_as_expected(expected), wrong, {})
    assert [d for d in report.differences if d.startswith("dead letter for (0, 0), not malformed")]
    garbage = [*letters, KafkaRecord(0, 6, 0, None, b"[1, 2]")]
    report = compare(expected, stored_as_expected(expected), garbage, {})
    assert [d for d in report.differences if "is not a dead letter" in d]


def test_dead_letters_of_older_records_or_other_topics_are_reported_not_wrong() -> None:
    expected = expectation()
    letters = dead_letters_as_expected(expected)
    older = {
        "reason": "x",
        "stage": "parse",
        "record": "?",
        "source": {"topic": TOPIC, "partition": 3, "offset": 7},
    }
    other = {**older, "source": {"topic": "elsewhere", "partition": 0, "offset": 0}}
    extra = [
        KafkaRecord(0, 10 + i, 0, None, json.dumps(v).encode())
        for i, v in enumerate((older, other))
    ]
    report = compare(expected, stored_as_expected(expected), [*letters, *extra], {3: 100})
    assert report.reconciled, report.differences
    assert (report.older_dead_letters, report.other_topic_dead_letters) == (1, 1)


def test_a_redriven_dead_letter_is_decided_by_its_redriven_record() -> None:
    # (0, 0) was dead-lettered under an earlier rule that has since been fixed, then re-driven
    # (lendstream dlq redrive): the copy at (0, 5) names it in its header.
    earlier_rule = {
        "reason": "a rule since fixed",
        "stage": "clean",
        "record": raw_applicant("M-1"),
        "source": {"topic": TOPIC, "partition": 0, "offset": 0},
    }
    letter_of_original = KafkaRecord(0, 20, 0, b"M-1", json.dumps(earlier_rule).encode())
    copy = record(0, 5, raw_applicant("M-1"), timestamp_ms=9_000)
    redriven = KafkaRecord(
        copy.partition,
        copy.offset,
        copy.timestamp_ms,
        b"M-1",
        copy.value,
        ((REDRIVE_HEADER, Source(TOPIC, 0, 0).key().encode()),),
    )
    expected = expect(triage_published([*PUBLISHED, redriven], TOPIC), fixed_scorer)
    assert expected.redriven == {(0, 0)}
    assert expected.rows["M-1"].applicant.offset == 5
    letters = [*dead_letters_as_expected(expected), letter_of_original]
    report = compare(expected, stored_as_expected(expected), letters, {})
    assert report.reconciled, report.differences
    assert (report.redriven_dead_letters, report.superseded, report.dead_lettered) == (1, 1, 2)
    # Without the header the same dead letter is a valid applicant in the DLQ: a difference.
    unmarked = KafkaRecord(0, 5, copy.timestamp_ms, b"M-1", copy.value)
    expected = expect(triage_published([*PUBLISHED, unmarked], TOPIC), fixed_scorer)
    report = compare(expected, stored_as_expected(expected), letters, {})
    assert [d for d in report.differences if d.startswith("dead letter for (0, 0), not malformed")]


def test_a_redriven_record_still_malformed_keeps_its_original_dead_letter() -> None:
    original = next(r for r in PUBLISHED if (r.partition, r.offset) == (1, 1))
    redriven = KafkaRecord(
        1, 7, 9_000, None, original.value, ((REDRIVE_HEADER, b"applicants/1/1"),)
    )
    expected = expect(triage_published([*PUBLISHED, redriven], TOPIC), fixed_scorer)
    assert {(1, 1), (1, 7)} <= set(expected.dead_letters)
    report = compare(expected, stored_as_expected(expected), dead_letters_as_expected(expected), {})
    assert report.reconciled, report.differences
    assert (report.redriven_dead_letters, report.dead_lettered) == (0, 3)


def test_a_source_key_round_trips_and_rejects_what_is_not_one() -> None:
    source = Source("applicants.v2", 3, 1_234)
    assert Source.from_key(source.key()) == source
    for not_a_key in ("", "applicants", "applicants/1", "applicants/x/2", "/1/2"):
        assert Source.from_key(not_a_key) is None


def test_a_score_stage_dead_letter_stands_in_for_a_refused_applicants_row() -> None:
    refusal = {
        "reason": "risk service refused a batch of 2: HTTP 422",
        "stage": "score",
        "record": raw_applicant("M-4"),
        "source": {"topic": TOPIC, "partition": 1, "offset": 2},
    }
    refused_letter = KafkaRecord(0, 50, 0, b"M-4", json.dumps(refusal).encode())
    triaged = triage_published(PUBLISHED, TOPIC)
    assert refused_positions([refused_letter], TOPIC) == {(1, 2)}
    expected = expect(triaged, fixed_scorer, refused_at={(1, 2)})
    letters = [*dead_letters_as_expected(expected), refused_letter]
    rows = stored_as_expected(expected)
    report = compare(expected, rows, letters, {})
    assert report.reconciled, report.differences
    assert (report.stored, report.dead_lettered) == (2, 3)
    rows["M-4"] = {b"result:decision": b"review"}
    report = compare(expected, rows, letters, {})
    assert report.differences == ["row M-4 stored, but its record was refused"]


def test_drained_means_every_partition_committed_to_its_end() -> None:
    assert OffsetsSeen({0: 5, 1: 3}, {0: 5, 1: 3}).drained
    assert OffsetsSeen({}, {0: 0}).drained  # an empty partition needs no commit
    behind = OffsetsSeen({0: 5}, {0: 5, 1: 3})
    assert (behind.drained, behind.lag) == (False, 3)


def test_the_command_needs_every_setting_and_reads_the_token(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("secret-token\n")
    argv = [
        "--bootstrap", "m1:9092, m2:9092",
        "--topic", "t", "--dead-letter-topic", "t.dlq", "--group", "g",
        "--hbase-hosts", "w1,w2", "--hbase-port", "9090", "--table", "members",
        "--risk-url", "http://w1:8090,http://w2:8090", "--risk-token-file", str(token),
    ]  # fmt: skip
    settings, _ = parse_arguments(argv)
    assert settings.bootstrap == ("m1:9092", "m2:9092")
    assert settings.hbase_hosts == ("w1", "w2")
    assert settings.risk.token == "secret-token"
    assert settings.risk.urls == ("http://w1:8090", "http://w2:8090")
    for missing in ("--group", "--hbase-port"):
        index = argv.index(missing)
        with pytest.raises(SystemExit) as exit_info:
            parse_arguments(argv[:index] + argv[index + 2 :])
        assert exit_info.value.code == 2
    unreadable = [*argv[:-1], str(tmp_path / "absent")]
    with pytest.raises(SystemExit):
        main(unreadable)


def test_the_summary_names_the_counts_and_the_first_differences() -> None:
    expected = expectation()
    rows = stored_as_expected(expected)
    del rows["M-1"]
    report = compare(expected, rows, dead_letters_as_expected(expected), {})
    lines = summary_lines(report, max_differences=1)
    assert lines[-2].startswith("NOT RECONCILED: 2 differences")
    assert lines[-1].startswith("  row M-1 missing")
    assert report.as_dict()["differences"] == 2


# ---- endpoints that do not answer (a node down) --------------------------------------------------


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A real listening socket on loopback: a live endpoint."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield int(server.getsockname()[1])


def command_argv(token_file: Path, broker: str, thrift_port: int, risk_url: str) -> list[str]:
    return [
        "--bootstrap", broker,
        "--topic", "t", "--dead-letter-topic", "t.dlq", "--group", "g",
        "--hbase-hosts", "127.0.0.1", "--hbase-port", str(thrift_port), "--table", "members",
        "--risk-url", risk_url, "--risk-token-file", str(token_file),
        "--drain-timeout-s", "5",
    ]  # fmt: skip


def test_a_listening_port_answers_and_an_unbound_one_does_not(listening_port: int) -> None:
    assert connect_error("127.0.0.1", listening_port) is None
    started = time.monotonic()
    why = connect_error("127.0.0.1", free_port(), timeout_s=2.0)
    assert why is not None
    assert "refused" in why.lower()
    assert time.monotonic() - started < 2.0


def test_endpoint_addresses_are_parsed_from_brokers_and_urls() -> None:
    assert broker_address("m1.lendstream.internal:9092") == ("m1.lendstream.internal", 9092)
    assert url_address("http://m2:8090") == ("m2", 8090)
    assert url_address("https://m3/") == ("m3", 443)
    for broker in ("m1", "m1:", ":9092", "m1:port"):
        with pytest.raises(ValueError, match="not host:port"):
            broker_address(broker)
    with pytest.raises(ValueError, match="not an http"):
        url_address("m2:8090")


def test_probe_keeps_the_endpoints_that_answer_and_names_the_others(listening_port: int) -> None:
    dead, live = f"127.0.0.1:{free_port()}", f"127.0.0.1:{listening_port}"
    probed = probe("Kafka broker", [dead, live], broker_address, timeout_s=2.0)
    assert probed.live == (live,)
    assert list(probed.dead) == [dead]
    assert "refused" in probed.dead[dead].lower()


def test_probe_fails_when_no_endpoint_of_a_kind_answers() -> None:
    dead = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    with pytest.raises(CannotReconcileError, match="no risk service answers") as error:
        probe("risk service", dead, url_address, timeout_s=2.0)
    assert all(url in str(error.value) for url in dead)
    with pytest.raises(CannotReconcileError, match="no Kafka broker given"):
        probe("Kafka broker", [], broker_address)


def test_only_the_live_endpoints_are_used_and_the_dead_are_reported(
    tmp_path: Path, listening_port: int
) -> None:
    token = tmp_path / "token"
    token.write_text("secret-token\n")
    dead_port = free_port()
    argv = command_argv(token, f"127.0.0.1:{dead_port}", listening_port, "")
    argv[argv.index("--bootstrap") + 1] += f",127.0.0.1:{listening_port}"
    argv[argv.index("--risk-url") + 1] = (
        f"http://127.0.0.1:{dead_port},http://127.0.0.1:{listening_port}"
    )
    settings, _ = parse_arguments(argv)
    probed = probe_endpoints(settings, timeout_s=2.0)
    live = with_live_endpoints(settings, probed)
    assert live.bootstrap == (f"127.0.0.1:{listening_port}",)
    assert live.hbase_hosts == ("127.0.0.1",)
    assert live.risk.urls == (f"http://127.0.0.1:{listening_port}",)
    assert live.risk.token == "secret-token"
    assert [(p.kind, list(p.dead)) for p in probed] == [
        ("Kafka broker", [f"127.0.0.1:{dead_port}"]),
        ("HBase Thrift server", []),
        ("risk service", [f"http://127.0.0.1:{dead_port}"]),
    ]


def test_skipped_endpoints_are_in_the_summary_and_the_json_not_differences() -> None:
    expected = expectation()
    report = compare(expected, stored_as_expected(expected), dead_letters_as_expected(expected), {})
    report.unreachable = {"Kafka broker": {"m1:9092": "timed out"}}
    assert report.reconciled
    lines = summary_lines(report, max_differences=5)
    assert "skipped Kafka broker m1:9092: did not answer (timed out)" in lines
    assert lines[-1].startswith("RECONCILED")
    assert report.as_dict()["unreachable"] == {"Kafka broker": {"m1:9092": "timed out"}}


def test_the_command_exits_2_naming_them_when_no_broker_answers(
    tmp_path: Path, listening_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "token"
    token.write_text("secret-token\n")
    dead = f"127.0.0.1:{free_port()}"
    argv = command_argv(token, dead, listening_port, f"http://127.0.0.1:{listening_port}")
    started = time.monotonic()
    assert main(argv) == 2
    assert time.monotonic() - started < 10.0
    error = capsys.readouterr().err
    assert "no Kafka broker answers" in error
    assert dead in error


def test_the_demo_summary_counts_a_member_published_twice_as_reconciled() -> None:
    """`make demo` prints the reconcile's accounting: a member published again (a legitimate
    update leaving one row) is superseded, not a mismatch."""
    republished = [*PUBLISHED, record(1, 3, raw_applicant("M-1", loan_amnt="12000"))]
    expected = expect(triage_published(republished, TOPIC), fixed_scorer)
    rows = stored_as_expected(expected)
    report = compare(expected, rows, dead_letters_as_expected(expected), {})
    assert (report.published, report.superseded, report.reconciled) == (6, 1, True)
    with demo.console.capture() as captured:
        demo._print_summary(demo.Summary(report), storm_ui_url="", drained=True)
    text = captured.get()
    assert "published = stored + dead-lettered + superseded │ yes" in text
    del rows["M-4"]
    report = compare(expected, rows, dead_letters_as_expected(expected), {})
    with demo.console.capture() as captured:
        demo._print_summary(demo.Summary(report), storm_ui_url="", drained=True)
    assert "no: 2 differences" in captured.get()
    assert "row M-4 missing" in captured.get()
