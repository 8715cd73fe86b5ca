"""The fault suite's arithmetic: recovery time, delays, lost records, and the table."""

from __future__ import annotations

from lendstream.chaos.report import (
    AlertResult,
    FaultResult,
    alert_problems,
    lost_from,
    max_delay_seconds,
    recovery_seconds,
    table,
)

INJECTED_MS = 1_000_000


def test_no_late_record_after_the_injection_means_no_recovery_time() -> None:
    rows = [(INJECTED_MS - 5_000, INJECTED_MS - 4_000), (INJECTED_MS + 1_000, INJECTED_MS + 2_500)]
    assert recovery_seconds(rows, INJECTED_MS) == 0.0


def test_recovery_ends_when_the_last_late_record_is_stored() -> None:
    rows = [
        (INJECTED_MS + 1_000, INJECTED_MS + 40_000),  # held up 39 s by the fault
        (INJECTED_MS + 20_000, INJECTED_MS + 41_000),  # 21 s
        (INJECTED_MS + 42_000, INJECTED_MS + 43_000),  # on time again
    ]
    assert recovery_seconds(rows, INJECTED_MS) == 41.0


def test_late_records_stored_before_the_injection_do_not_count() -> None:
    rows = [(INJECTED_MS - 60_000, INJECTED_MS - 1_000)]  # 59 s late, but before the fault
    assert recovery_seconds(rows, INJECTED_MS) == 0.0


def test_max_delay_is_the_slowest_row_and_none_without_rows() -> None:
    assert max_delay_seconds([(0, 1_500), (10, 12_010)]) == 12.0
    assert max_delay_seconds([]) is None


def test_lost_counts_what_is_neither_stored_dead_lettered_nor_superseded() -> None:
    summary = {"published": 100, "stored": 90, "dead_lettered": 6, "superseded": 2}
    assert lost_from(summary) == 2
    assert lost_from({**summary, "stored": 92}) == 0


def result(**changes: object) -> FaultResult:
    values: dict[str, object] = {
        "fault": "kafka-broker-kill",
        "description": "kill -9 one Kafka broker",
        "held_s": 0.0,
        "recovered_s": 12.5,
        "published": 2_000,
        "stored": 1_960,
        "dead_lettered": 40,
        "lost": 0,
        "extra": 0,
        "differences": 0,
        "max_delay_s": 14.2,
    }
    values.update(changes)
    return FaultResult(**values)  # type: ignore[arg-type]


def test_a_fault_passes_only_with_nothing_lost_extra_different_or_broken() -> None:
    assert result().passed
    assert not result(lost=1).passed
    assert not result(extra=1).passed
    assert not result(differences=3).passed
    assert not result(error="heal: m2 lendstream-kafka active: not after 300 s").passed


def test_the_table_has_a_row_per_fault_and_names_the_failures() -> None:
    text = table([result(), result(fault="mariadb-restart", lost=3)])
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["fault", "held"]
    assert lines[2].startswith("kafka-broker-kill")
    assert lines[2].endswith("ok")
    assert lines[3].startswith("mariadb-restart")
    assert lines[3].endswith("FAILED")
    assert "12.5" in lines[2]
    assert "14.2" in lines[2]


def test_the_table_has_a_row_and_a_note_per_alert() -> None:
    fired = result(
        fault="kafka-broker-stop",
        alerts=(
            AlertResult("KafkaBrokerDown", pending_s=14.0, fired_s=76.0, resolved_s=21.0),
            AlertResult("KafkaBrokerFenced", pending_s=20.0, fired_s=81.0, resolved_s=None),
        ),
    )
    silent = result(alerts=(AlertResult("KafkaBrokerDown"),))
    lines = table([fired, silent]).splitlines()
    header = lines.index(
        next(line for line in lines if line.startswith("fault  ") and "alert" in line)
    )
    assert lines[header].split() == [
        "fault",
        "alert",
        "pending",
        "s",
        "fired",
        "s",
        "resolved",
        "s",
    ]
    assert lines[header + 2].split() == [
        "kafka-broker-stop",
        "KafkaBrokerDown",
        "14.0",
        "76.0",
        "21.0",
    ]
    assert lines[header + 3].split() == [
        "kafka-broker-stop",
        "KafkaBrokerFenced",
        "20.0",
        "81.0",
        "-",
    ]
    assert lines[header + 4].split() == ["kafka-broker-kill", "KafkaBrokerDown", "-", "-", "-"]
    assert (
        "kafka-broker-stop: alert KafkaBrokerDown pending after 14 s, firing after 76 s "
        "(from the injection), gone 21 s after the healing"
    ) in lines
    assert (
        "kafka-broker-stop: alert KafkaBrokerFenced pending after 20 s, firing after 81 s "
        "(from the injection), still active after the healing"
    ) in lines
    assert "kafka-broker-kill: alert KafkaBrokerDown never pending nor firing" in lines


def test_the_json_has_an_entry_per_alert() -> None:
    document = result(alerts=(AlertResult("NoActiveHBaseMaster", 20.0, 80.0, 15.0),)).as_dict()
    assert document["alerts"] == [
        {"alert": "NoActiveHBaseMaster", "pending_s": 20.0, "fired_s": 80.0, "resolved_s": 15.0}
    ]
    assert document["passed"] is True


def test_alerts_are_bounded_from_the_end_of_the_injection() -> None:
    # RiskServiceErrors (for: 5m) after a bad model took 25 s to reach three nodes: it fired
    # 355 s after the injection began, 330 s after the fault was in place.
    fired = (AlertResult("RiskServiceErrors", pending_s=56.2, fired_s=354.7, resolved_s=30.4),)
    rules = {"RiskServiceErrors": 300.0}
    assert alert_problems(fired, ["RiskServiceErrors"], rules, held_s=420, in_place_s=25) == ()
    assert alert_problems(fired, ["RiskServiceErrors"], rules, held_s=420, in_place_s=0) == (
        "RiskServiceErrors fired after 355 s, bound 345 s",
    )


def test_an_alert_held_too_briefly_need_not_fire_but_must_not_stay() -> None:
    rules = {"KafkaBrokerDown": 60.0}
    silent = (AlertResult("KafkaBrokerDown"),)
    assert alert_problems(silent, ["KafkaBrokerDown"], rules, held_s=80, in_place_s=0) == ()
    assert alert_problems(silent, ["KafkaBrokerDown"], rules, held_s=120, in_place_s=0) == (
        "KafkaBrokerDown never fired",
    )
    stuck = (AlertResult("KafkaBrokerDown", pending_s=20.0),)
    assert alert_problems(stuck, ["KafkaBrokerDown"], rules, held_s=80, in_place_s=0) == (
        "KafkaBrokerDown still active after the healing",
    )
    slow = (AlertResult("KafkaBrokerDown", pending_s=20.0, fired_s=80.0, resolved_s=90.0),)
    assert (
        alert_problems(slow, ["KafkaBrokerDown"], rules, held_s=120, in_place_s=0, window_s=60)
        == ()
    )
    assert alert_problems(slow, ["KafkaBrokerDown"], rules, held_s=120, in_place_s=0) == (
        "KafkaBrokerDown gone 90 s after the healing, bound 60 s",
    )


def test_a_fault_with_an_alert_problem_fails_and_says_why() -> None:
    assert alert_problems([], ["NoActiveNameNode"], {}, held_s=300, in_place_s=0) == (
        "alerts watched [], expected ['NoActiveNameNode']",
    )
    unknown = (AlertResult("NoActiveNameNode"),)
    assert alert_problems(unknown, ["NoActiveNameNode"], {}, held_s=300, in_place_s=0) == (
        "NoActiveNameNode: no such alerting rule loaded",
    )
    failed = result(alert_problems=("NoActiveNameNode never fired",), in_place_s=12.0)
    assert not failed.passed
    notes = table([failed]).splitlines()
    assert "kafka-broker-kill: NoActiveNameNode never fired" in notes
    assert "kafka-broker-kill: in place 12 s after the injection began" in notes
