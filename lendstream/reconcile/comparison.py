"""The comparison: the HBase table and the dead-letter topic against the expectation.

Every valid applicant's row is there once with the cells the save bolt writes
(lendstream.pipeline.hbase_writer.row_cells), every malformed record is dead-lettered with its
reason (replayed dead letters identical), and published = stored + dead-lettered + superseded.
Rows the topic does not explain (a long-lived table holds older ones) are reported, not counted
as wrong. A dead letter of stage ``score`` (the risk service refused its batch outright) stands
in for the applicant's row.

A row scored by another model version than the one the risk services serve now (a model rolled
out since) cannot have its score re-derived: its score cells (probability, model version, and
which scored decision) are not compared, every other cell is, and the rows are counted per
version in ``scored_by_other_models``.

A dead letter whose record was re-driven since (``lendstream dlq redrive``) and now passes is
counted in ``redriven_dead_letters``, not as a difference: the original is superseded by the
re-driven record, which must be stored (or dead-lettered again) like any other.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lendstream.kafka_topics import KafkaRecord
from lendstream.pipeline.dead_letter import DeadLetter, Source
from lendstream.pipeline.hbase_writer import SCORED_DECISIONS, row_cells, row_key
from lendstream.reconcile.expectation import Expectation, ExpectedRow, Position

PROBABILITY_CELL = b"result:probability_of_default"
MODEL_VERSION_CELL = b"result:model_version"
DECISION_CELL = b"result:decision"
SCORE_CELLS = frozenset({PROBABILITY_CELL, MODEL_VERSION_CELL, DECISION_CELL})
CLEAN_CELL = b"member:clean"
PROBABILITY_TOLERANCE = 1e-9
SAMPLE_KEYS = 10


def scored_by_another_model(expected: ExpectedRow, cells: Mapping[bytes, bytes]) -> str | None:
    """The model version a stored row was scored by, when it is not the one that scored the
    expectation (both scored); None otherwise."""
    stored = cells.get(MODEL_VERSION_CELL)
    if not stored or expected.outcome.model_version is None:
        return None
    version = stored.decode(errors="replace")
    return None if version == expected.outcome.model_version else version


def row_differences(
    member_id: str, expected: ExpectedRow, cells: Mapping[bytes, bytes]
) -> list[str]:
    """How a stored row differs from the cells the save bolt writes for it (none: equal).
    The probability is compared as a number (a batch's arithmetic may differ in the last bit).
    A row scored by another model version is compared on every cell but its score cells, and
    its decision must still be one a score gives."""
    wanted = row_cells(expected.applicant, expected.outcome)
    problems = []
    if scored_by_another_model(expected, cells) is not None:
        decision = cells.get(DECISION_CELL, b"").decode(errors="replace")
        if decision not in SCORED_DECISIONS:
            problems.append(f"row {member_id}: decision {decision!r} is not a score's")
        wanted = {c: v for c, v in wanted.items() if c not in SCORE_CELLS}
        cells = {c: v for c, v in cells.items() if c not in SCORE_CELLS}
    for column in sorted(set(wanted) | set(cells)):
        name = column.decode()
        if column not in cells:
            problems.append(f"row {member_id}: {name} missing (expected {wanted[column]!r:.80})")
        elif column not in wanted:
            problems.append(f"row {member_id}: unexpected cell {name} = {cells[column]!r:.80}")
        elif not _same_cell(column, wanted[column], cells[column]):
            problems.append(
                f"row {member_id}: {name} is {cells[column]!r:.80}, expected {wanted[column]!r:.80}"
            )
    return problems


def missing_row(member_id: str, expected: ExpectedRow) -> str:
    """A missing row named with what finds it in the daemons' logs: its HBase row key (the salt
    names the region), its record's place in the topic and the record's Kafka time."""
    applicant = expected.applicant
    published = datetime.fromtimestamp(applicant.kafka_timestamp_ms / 1000, tz=UTC)
    milliseconds = published.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return (
        f"row {member_id} missing (key {row_key(applicant).decode()}, record "
        f"{applicant.partition}/{applicant.offset} of {milliseconds} UTC; "
        f"decided {expected.outcome})"
    )


def _same_cell(column: bytes, wanted: bytes, stored: bytes) -> bool:
    if column == PROBABILITY_CELL:
        try:
            return abs(float(stored) - float(wanted)) < PROBABILITY_TOLERANCE
        except ValueError:
            return False
    if column == CLEAN_CELL:
        try:
            return bool(json.loads(stored) == json.loads(wanted))
        except ValueError:
            return False
    return wanted == stored


@dataclass
class Report:
    published: int = 0
    stored: int = 0  # rows the topic explains, found in the table
    dead_lettered: int = 0  # distinct records dead-lettered (deduplicated by source)
    dead_letter_messages: int = 0
    superseded: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    extra_rows: int = 0  # rows the topic does not explain (reported, not wrong)
    extra_row_keys: list[str] = field(default_factory=list)
    older_dead_letters: int = 0  # for records before the topic's log start
    # Dead letters of records since re-driven (lendstream dlq redrive) that are no longer dead
    # letters: the re-driven record decides them (the original is superseded by it).
    redriven_dead_letters: int = 0
    other_topic_dead_letters: int = 0
    model_versions: Counter[str] = field(default_factory=Counter)
    # Rows scored by a model version the risk services no longer serve: version → rows.
    scored_by_other_models: Counter[str] = field(default_factory=Counter)
    differences: list[str] = field(default_factory=list)
    # Endpoints skipped because they did not answer: kind → endpoint → why (not a difference).
    unreachable: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def reconciled(self) -> bool:
        return not self.differences

    def as_dict(self, max_differences: int = 20) -> dict[str, Any]:
        return {
            "reconciled": self.reconciled,
            "published": self.published,
            "stored": self.stored,
            "dead_lettered": self.dead_lettered,
            "dead_letter_messages": self.dead_letter_messages,
            "superseded": self.superseded,
            "decisions": dict(sorted(self.decisions.items())),
            "model_versions": dict(sorted(self.model_versions.items())),
            "scored_by_other_models": dict(sorted(self.scored_by_other_models.items())),
            "extra_rows": self.extra_rows,
            "extra_row_keys": self.extra_row_keys,
            "older_dead_letters": self.older_dead_letters,
            "redriven_dead_letters": self.redriven_dead_letters,
            "other_topic_dead_letters": self.other_topic_dead_letters,
            "differences": len(self.differences),
            "first_differences": self.differences[:max_differences],
            "unreachable": self.unreachable,
        }


def compare(
    expectation: Expectation,
    rows: Mapping[str, Mapping[bytes, bytes]],
    dead_letter_records: Iterable[KafkaRecord],
    log_start: Mapping[int, int],
) -> Report:
    """Check the table and the dead-letter topic against the expectation."""
    report = Report(published=expectation.published, superseded=expectation.superseded)
    _compare_rows(expectation, rows, report)
    _compare_dead_letters(expectation, dead_letter_records, log_start, report)
    accounted = report.stored + report.dead_lettered + report.superseded
    if report.published != accounted:
        report.differences.append(
            f"published {report.published:,} != stored {report.stored:,} + dead-lettered "
            f"{report.dead_lettered:,} + superseded {report.superseded:,}"
        )
    return report


def _compare_rows(
    expectation: Expectation, rows: Mapping[str, Mapping[bytes, bytes]], report: Report
) -> None:
    for member_id, expected in expectation.rows.items():
        cells = rows.get(member_id)
        if cells is None:
            report.differences.append(missing_row(member_id, expected))
            continue
        report.stored += 1
        report.decisions[cells.get(DECISION_CELL, b"?").decode(errors="replace")] += 1
        if MODEL_VERSION_CELL in cells:
            report.model_versions[cells[MODEL_VERSION_CELL].decode(errors="replace")] += 1
        other_model = scored_by_another_model(expected, cells)
        if other_model is not None:
            report.scored_by_other_models[other_model] += 1
        report.differences.extend(row_differences(member_id, expected, cells))
    refused_members = {a.member_id for a in expectation.refused.values()}
    for member_id in sorted(set(rows) - set(expectation.rows)):
        if member_id in refused_members:
            report.differences.append(f"row {member_id} stored, but its record was refused")
            continue
        report.extra_rows += 1
        if len(report.extra_row_keys) < SAMPLE_KEYS:
            report.extra_row_keys.append(member_id)


def _dead_letter_value(record: KafkaRecord) -> dict[str, Any] | None:
    """The message's JSON value if it has the dead-letter shape (a ``source`` with topic,
    partition and offset), else ``None``."""
    try:
        value = json.loads(record.value or b"")
    except ValueError:
        return None
    source = value.get("source") if isinstance(value, dict) else None
    if not isinstance(source, dict) or not isinstance(source.get("topic"), str):
        return None
    if not all(isinstance(source.get(name), int) for name in ("partition", "offset")):
        return None
    return value


def _dead_letters_by_source(
    expectation: Expectation, dead_letter_records: Iterable[KafkaRecord], report: Report
) -> dict[Position, tuple[bytes | None, dict[str, Any]]]:
    """Each source record of the applicant topic → its dead letter (replays must be identical)."""
    by_source: dict[Position, tuple[bytes | None, dict[str, Any]]] = {}
    for record in dead_letter_records:
        report.dead_letter_messages += 1
        value = _dead_letter_value(record)
        where = f"dead letter at {record.partition}/{record.offset}"
        if value is None:
            report.differences.append(f"{where} is not a dead letter: {record.value!r:.120}")
            continue
        source = value["source"]
        if source["topic"] != expectation.topic:
            report.other_topic_dead_letters += 1
            continue
        position = (int(source["partition"]), int(source["offset"]))
        earlier = by_source.get(position)
        if earlier is None:
            by_source[position] = (record.key, value)
        elif earlier != (record.key, value):
            report.differences.append(f"{where}: replayed dead letter of {position} differs")
    return by_source


def _compare_dead_letters(
    expectation: Expectation,
    dead_letter_records: Iterable[KafkaRecord],
    log_start: Mapping[int, int],
    report: Report,
) -> None:
    by_source = _dead_letters_by_source(expectation, dead_letter_records, report)
    for position, (key, value) in sorted(by_source.items()):
        wanted = _wanted_dead_letter(expectation, position, value)
        if wanted is None:
            if position[1] < log_start.get(position[0], 0):
                report.older_dead_letters += 1
            elif position in expectation.redriven:
                report.redriven_dead_letters += 1
            else:
                report.differences.append(f"dead letter for {position}, not malformed: {value}")
            continue
        report.dead_lettered += 1
        if value != wanted.message_value() or key != wanted.message_key():
            report.differences.append(
                f"dead letter for {position} is {key!r} {value}, expected "
                f"{wanted.message_key()!r} {wanted.message_value()}"
            )
    for position in sorted(set(expectation.dead_letters) | set(expectation.refused)):
        if position not in by_source:
            letter = expectation.dead_letters.get(position)
            reason = letter.reason if letter else "refused by the risk service"
            report.differences.append(f"no dead letter for {position} ({reason})")


def _wanted_dead_letter(
    expectation: Expectation, position: Position, value: dict[str, Any]
) -> DeadLetter | None:
    """The dead letter expected at ``position``; for a refused applicant the reason is the risk
    service's answer, which only the message knows."""
    if position in expectation.dead_letters:
        return expectation.dead_letters[position]
    applicant = expectation.refused.get(position)
    if applicant is None:
        return None
    source = Source(expectation.topic, *position)
    reason = str(value.get("reason", ""))
    return DeadLetter(reason, "score", json.loads(applicant.raw), source, applicant.member_id)


def refused_positions(dead_letter_records: Iterable[KafkaRecord], topic: str) -> set[Position]:
    """Records of ``topic`` dead-lettered at stage ``score`` (refused by the risk service)."""
    positions = set()
    for record in dead_letter_records:
        value = _dead_letter_value(record)
        if value and value.get("stage") == "score" and value["source"]["topic"] == topic:
            positions.add((int(value["source"]["partition"]), int(value["source"]["offset"])))
    return positions
