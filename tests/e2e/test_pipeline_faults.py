"""The topology on the real stack when the risk service misbehaves: what is retried, what is
dead-lettered, and re-driving dead letters with `lendstream dlq` once the cause is fixed.

The risk service here is the scripted one (tests/scripted_risk_service.py): it scores like the
contract says, and each test scripts its trouble. Kafka, HBase and Storm are the stack's own;
every run has its own topics, table, group and topology (pipeline_run.py), and reconciles with
lendstream.reconcile's rules.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import happybase
import pytest
from pipeline_run import (
    PipelineRun,
    Produced,
    expected_outcomes,
    isolated_run,
    reconcile,
    refused_positions,
)
from scripted_risk_service import TOKEN, ScriptedRiskService, contract_answer

from lendstream.model.synthetic import generate
from lendstream.pipeline.flow import Applicant, SourceRecord, apply_rules, triage
from lendstream.pipeline.hbase_writer import member_id_of
from lendstream.pipeline.poison import DEFAULT_POISON_BATCH_FAILURES
from lendstream.pipeline.scoring import RiskServiceSettings
from lendstream.reconcile import Report, Settings, end_offsets, read_topic
from lendstream.reconcile import reconcile as reconcile_with_the_command
from lendstream.stack.runtime import StackEndpoints

pytestmark = [pytest.mark.stack, pytest.mark.slow]

APPLICANTS = 600
MALFORMED_RATE = 0.05
DRAIN_TIMEOUT_S = 300.0
MESSAGE_TIMEOUT_S = 30  # below the score bolt's retry chain (4 requests of 10 s): tuples time out
RISK_TIMEOUT_S = 10.0  # the topology's risk_service_timeout_s
Answer = tuple[int, Any]


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[tuple[ScriptedRiskService, RiskServiceSettings]]:
    """A scripted risk service on loopback, and settings naming it and its token file."""
    token_file = tmp_path / "risk-token"
    token_file.write_text(TOKEN + "\n")
    with ScriptedRiskService() as service:
        yield service, RiskServiceSettings.from_token_file(service.url, token_file)


def ids_in(body: dict[str, Any]) -> list[str]:
    return [applicant["member_id"] for applicant in body["applicants"]]


def scored_member(records: list[dict[str, Any]], after: int) -> str:
    """The member id of a valid record at or after position ``after`` that the rules leave to
    the risk service."""
    for index in range(after, len(records)):
        applicant = triage(SourceRecord("t", 0, index, 0, json.dumps(records[index])))
        if isinstance(applicant, Applicant) and apply_rules([applicant]) == [None]:
            return applicant.member_id
    raise AssertionError("no record left to the risk service")


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s:.0f} s: {what}"
        time.sleep(0.5)


def position_of(produced: Produced, member_id: str) -> tuple[int, int]:
    (position,) = [
        position
        for position, value in produced.values.items()
        if json.loads(value).get("member_id") == member_id
    ]
    return position


def dead_letters(run: PipelineRun) -> list[dict[str, Any]]:
    contents = read_topic(
        run.conf.kafka_bootstrap_servers, run.conf.kafka_dead_letter_topic, timeout_s=60.0
    )
    return [json.loads(record.value or b"") for record in contents.records]


def dlq(run: PipelineRun, *args: str) -> subprocess.CompletedProcess[str]:
    """`lendstream dlq …` against the run's topics, as an operator runs it."""
    conf = run.conf
    command = [sys.executable, "-m", "lendstream.cli", "dlq", *args[:1]]
    command += ["--bootstrap", conf.kafka_bootstrap_servers, "--topic", conf.kafka_topic]
    command += ["--dead-letter-topic", conf.kafka_dead_letter_topic, *args[1:]]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


@dataclass(frozen=True)
class Redrives:
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    ends_after_first: dict[int, int]
    ends_after_second: dict[int, int]
    rows: dict[bytes, dict[bytes, bytes]]  # by member id
    check: Report  # the operator's reconcile (lendstream.reconcile) afterwards


def redrive_twice(run: PipelineRun) -> Redrives:
    """Re-drive the run's score-stage dead letters, let the topology store them, then re-drive
    the same again; the run's topic end offsets after each, the table's rows at the end, and
    what the operator's reconcile says of it all."""
    conf = run.conf
    first = dlq(run, "redrive", "--stage", "score", "--reason", "refused it alone")
    run.wait_until_all_committed(DRAIN_TIMEOUT_S)
    ends_after_first = end_offsets(conf.kafka_bootstrap_servers, conf.kafka_topic)
    second = dlq(run, "redrive", "--stage", "score")
    ends_after_second = end_offsets(conf.kafka_bootstrap_servers, conf.kafka_topic)
    connection = happybase.Connection(conf.hbase_host, conf.hbase_port)
    try:
        rows = {
            member_id_of(key).encode(): cells
            for key, cells in connection.table(conf.hbase_table).scan()
        }
    finally:
        connection.close()
    settings = Settings.for_topology(conf, drain_timeout_s=DRAIN_TIMEOUT_S)
    check = reconcile_with_the_command(settings, progress=lambda _: None)
    return Redrives(first, second, ends_after_first, ends_after_second, rows, check)


def assert_redriven_once(redrives: Redrives, letter: dict[str, Any], stored_before: int) -> None:
    """The first re-drive published the dead letter's record and the topology stored it once;
    the second published nothing; the operator's reconcile accounts for it all."""
    poison = letter["record"]["member_id"]
    assert redrives.first.returncode == 0, redrives.first.stderr
    assert "re-driven 1, already re-driven 0" in redrives.first.stdout
    assert redrives.second.returncode == 0, redrives.second.stderr
    assert "re-driven 0, already re-driven 1" in redrives.second.stdout
    assert redrives.ends_after_second == redrives.ends_after_first  # it published nothing
    assert len(redrives.rows) == stored_before + 1  # the poison's row, once
    row = redrives.rows[poison.encode()]
    assert json.loads(row[b"member:raw"]) == letter["record"]
    assert row[b"result:decision"] in {b"approve", b"review", b"decline"}
    # The operator's reconcile accounts for the re-drive: the poison's dead letter is decided by
    # its re-driven record, which superseded it; nothing is a difference.
    check = redrives.check
    assert check.reconciled, check.differences[:5]
    assert check.redriven_dead_letters == 1
    assert check.stored == len(redrives.rows)


def test_401_and_403_are_retried_until_they_stop_and_dead_letter_nothing(
    e2e_stack: StackEndpoints,
    scripted: tuple[ScriptedRiskService, RiskServiceSettings],
) -> None:
    service, risk = scripted
    token_fixed = threading.Event()
    refusals: Counter[int] = Counter()

    def token_mismatch(body: dict[str, Any]) -> Answer:
        if token_fixed.is_set():
            return contract_answer(body)
        status = 401 if sum(refusals.values()) % 2 else 403
        refusals[status] += 1
        return status, {"error": "missing or wrong bearer token"}

    service.script = [token_mismatch]
    produced = Produced()
    with isolated_run(e2e_stack, risk) as run:
        run.deploy()
        run.produce(list(generate(APPLICANTS, 31, MALFORMED_RATE)), produced)
        # every batch fails and is replayed, again and again (4 attempts per delivery)
        wait_for(lambda: sum(refusals.values()) >= 40, DRAIN_TIMEOUT_S, "40 refused requests")
        token_fixed.set()
        run.wait_until_all_committed(DRAIN_TIMEOUT_S)
        expected = expected_outcomes(produced, run.conf.kafka_topic, risk)
        counts = reconcile(run, produced, expected)
        stages = Counter(letter["stage"] for letter in dead_letters(run))
    print(f"\n401/403 then recovery: refusals {dict(refusals)}, {dict(counts)}")
    assert refusals[401] > 0
    assert refusals[403] > 0
    assert "score" not in stages, stages  # only the malformed records are dead letters
    assert counts["stored"] == len(expected.rows) > 0
    assert counts["dead_lettered"] == len(expected.dead_letters)


def test_every_risk_service_down_longer_than_the_message_timeout_dead_letters_nothing(
    e2e_stack: StackEndpoints,
    scripted: tuple[ScriptedRiskService, RiskServiceSettings],
) -> None:
    service, risk = scripted
    back = threading.Event()
    hung: list[float] = []

    def hang(body: dict[str, Any]) -> Answer:
        if back.is_set():
            return contract_answer(body)
        hung.append(time.monotonic())
        time.sleep(RISK_TIMEOUT_S + 2)  # the client gives up first: a timed-out request
        return 503, {"error": "unavailable"}

    service.script = [hang]
    produced = Produced()
    with isolated_run(e2e_stack, risk) as run:
        try:
            run.deploy(extra_options={"topology.message.timeout.secs": MESSAGE_TIMEOUT_S})
            run.produce(list(generate(APPLICANTS, 34, MALFORMED_RATE)), produced)
            wait_for(lambda: bool(hung), DRAIN_TIMEOUT_S, "a request to the risk service")
            # longer than the message timeout: tuples time out in the score bolt and are replayed
            wait_for(
                lambda: time.monotonic() - hung[0] > 1.5 * MESSAGE_TIMEOUT_S,
                2 * MESSAGE_TIMEOUT_S,
                "the outage",
            )
            outage_s = time.monotonic() - hung[0]
            back.set()
            run.wait_until_all_committed(DRAIN_TIMEOUT_S)
            expected = expected_outcomes(produced, run.conf.kafka_topic, risk)
            counts = reconcile(run, produced, expected)
            stages = Counter(letter["stage"] for letter in dead_letters(run))
        finally:
            back.set()
    print(f"\nrisk service down {outage_s:.0f} s, {len(hung)} requests timed out: {dict(counts)}")
    assert "score" not in stages, stages
    assert counts["stored"] == len(expected.rows) > 0


def test_a_422_naming_one_applicant_dead_letters_only_it(
    e2e_stack: StackEndpoints,
    scripted: tuple[ScriptedRiskService, RiskServiceSettings],
) -> None:
    service, risk = scripted
    records = list(generate(APPLICANTS, 32, MALFORMED_RATE))
    refused_member = scored_member(records, APPLICANTS // 2)

    def refuse_one(body: dict[str, Any]) -> Answer:
        ids = ids_in(body)
        if refused_member not in ids:
            return contract_answer(body)
        problem = {"index": ids.index(refused_member), "field": "dti", "problem": "not liked"}
        return 422, {"error": "1 problem(s) in the request", "problems": [problem]}

    service.script = [refuse_one]
    produced = Produced()
    with isolated_run(e2e_stack, risk) as run:
        run.deploy()
        run.produce(records, produced)
        run.wait_until_all_committed(DRAIN_TIMEOUT_S)
        refused = refused_positions(run)
        expected = expected_outcomes(produced, run.conf.kafka_topic, risk, refused_at=refused)
        counts = reconcile(run, produced, expected)
        letters = [letter for letter in dead_letters(run) if letter["stage"] == "score"]
    print(f"\n422 naming {refused_member}: {dict(counts)}")
    assert refused == {position_of(produced, refused_member)}
    assert {letter["record"]["member_id"] for letter in letters} == {refused_member}
    assert letters[0]["reason"] == "risk service refused it: HTTP 422: dti: not liked"
    assert counts["stored"] == len(expected.rows) == len(expected.rows.keys() - {refused_member})


def test_a_poison_record_is_isolated_the_partition_flows_and_a_redrive_stores_it_once(
    e2e_stack: StackEndpoints,
    scripted: tuple[ScriptedRiskService, RiskServiceSettings],
) -> None:
    service, risk = scripted
    records = list(generate(APPLICANTS, 33, MALFORMED_RATE))
    first, later = records[: APPLICANTS // 2], records[APPLICANTS // 2 :]
    poison = scored_member(first, len(first) // 2)
    fixed = threading.Event()
    poisoned_requests: list[int] = []  # size of each request holding the poison

    def choke_on_poison(body: dict[str, Any]) -> Answer:
        ids = ids_in(body)
        if poison in ids and not fixed.is_set():
            poisoned_requests.append(len(ids))
            return 400, {"error": "the model cannot score this request"}  # names nobody
        return contract_answer(body)

    service.script = [choke_on_poison]
    produced = Produced()
    with isolated_run(e2e_stack, risk) as run:
        run.deploy()
        run.produce(first, produced)
        run.wait_until_all_committed(DRAIN_TIMEOUT_S)  # the poison did not stall its partition
        run.produce(later, produced)
        run.wait_until_all_committed(DRAIN_TIMEOUT_S)  # and the partitions still flow
        refused = refused_positions(run)
        expected = expected_outcomes(produced, run.conf.kafka_topic, risk, refused_at=refused)
        counts = reconcile(run, produced, expected)
        (letter,) = [letter for letter in dead_letters(run) if letter["stage"] == "score"]
        listed = dlq(run, "list", "--stage", "score")

        fixed.set()  # the cause is fixed: re-drive the dead letter
        redrives = redrive_twice(run)
    print(f"\npoison {poison}: requests holding it {poisoned_requests}; {dict(counts)}")
    print(redrives.first.stdout + redrives.second.stdout)
    assert refused == {position_of(produced, poison)}
    assert letter["record"]["member_id"] == poison
    assert letter["reason"].startswith("risk service refused it alone: ")
    assert "HTTP 400" in letter["reason"]
    # replayed whole poison_batch_failures times, then split down to it: bounded
    assert poisoned_requests[-1] == 1
    assert DEFAULT_POISON_BATCH_FAILURES + 2 <= len(poisoned_requests) <= 40
    assert listed.returncode == 0, listed.stderr
    assert poison in listed.stdout
    assert "refused it alone" in listed.stdout

    assert_redriven_once(redrives, letter, stored_before=counts["stored"])
