"""``python -m lendstream.reconcile``: does what the pipeline stored account for what was published?

An operator's check, run where the cluster's host names resolve (a cluster node, from the
lendstream virtualenv) and used by the end-to-end tests on the single-machine stack:

1. wait (bounded) until the topology's consumer group has committed the applicant topic's end
   offsets on every partition, and they stay put: the topology has drained;
2. read every record of the topic and of the dead-letter topic;
3. work out what must have happened to each record with the pipeline's own functions
   (lendstream.pipeline.flow: triage, apply_rules, apply_scores, and the risk service; the cells
   with lendstream.pipeline.hbase_writer.row_cells): the same code the bolts run;
4. compare with the HBase table and the dead-letter topic: every valid applicant's row is there
   once with the expected cells, every malformed record is dead-lettered with its reason (replayed
   dead letters identical), and published = stored + dead-lettered + superseded. Rows the topic
   does not explain (a long-lived table holds older ones) are reported, not counted as wrong.

A member published more than once is expected with its latest record (Kafka timestamp, then
position); its earlier records are *superseded*. A dead letter of stage ``score`` (the risk
service refused its batch outright) stands in for the applicant's row.

Every endpoint given (Kafka brokers, HBase Thrift servers, risk services) is probed first with a
short TCP connect: those that do not answer (a node down) are skipped and reported, so the check
works with any one node down; it fails only when no endpoint of a kind answers.

Exit status: 0 everything reconciles, 1 differences (the first ones are printed), 2 the check
could not be made (not drained in time, no endpoint of a kind answering, a topic or table missing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import happybase
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from lendstream.pipeline.dead_letter import DeadLetter, Source
from lendstream.pipeline.endpoints import split_list
from lendstream.pipeline.flow import (
    Applicant,
    Outcome,
    SourceRecord,
    apply_rules,
    apply_scores,
    triage,
)
from lendstream.pipeline.hbase_writer import CONNECTION_ERRORS, row_cells
from lendstream.pipeline.scoring import RiskServiceClient, RiskServiceSettings, ScoringError

PROBABILITY_CELL = b"result:probability_of_default"
CLEAN_CELL = b"member:clean"
PROBABILITY_TOLERANCE = 1e-9
POLL_INTERVAL_S = 1.0
PROGRESS_INTERVAL_S = 10.0
SAMPLE_KEYS = 10
PROBE_TIMEOUT_S = 3.0  # a TCP connect to a live endpoint on the cluster network takes milliseconds
# kafka-python's waits: each request, and the first metadata (bootstrap), each bounded.
KAFKA_REQUEST_TIMEOUT_MS = 15_000
KAFKA_BOOTSTRAP_TIMEOUT_MS = 15_000

Position = tuple[int, int]  # (partition, offset) of a record in the applicant topic
Rows = dict[str, dict[bytes, bytes]]  # row key → column → value


class ReconcileError(RuntimeError):
    """The check could not be made (as opposed to: it was made and found differences)."""


# ---- which endpoints answer -------------------------------------------------------------------


def connect_error(host: str, port: int, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Why no TCP connection to ``host:port`` opens within ``timeout_s`` (None: one does)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as error:
        return str(error) or type(error).__name__


def broker_address(broker: str) -> tuple[str, int]:
    """``"host:port"`` → (host, port)."""
    host, separator, port = broker.rpartition(":")
    if not separator or not host or not port.isdigit():
        raise ValueError(f"not host:port: {broker!r}")
    return host, int(port)


def url_address(url: str) -> tuple[str, int]:
    """``"http://host:port/…"`` → (host, port); the scheme's port when the URL names none."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class Probed:
    """The endpoints of one kind that answered a TCP connect, and why the others did not."""

    kind: str  # e.g. "Kafka broker"
    live: tuple[str, ...]
    dead: dict[str, str]  # endpoint → why it did not answer


def probe(
    kind: str,
    endpoints: Sequence[str],
    address: Callable[[str], tuple[str, int]],
    timeout_s: float = PROBE_TIMEOUT_S,
) -> Probed:
    """Connect to every endpoint at once (bounded by ``timeout_s``); raise ReconcileError when
    none answers, naming each and why."""
    if not endpoints:
        raise ReconcileError(f"no {kind} given")
    with ThreadPoolExecutor(max_workers=len(endpoints)) as pool:
        errors = list(pool.map(lambda e: connect_error(*address(e), timeout_s), endpoints))
    probed = Probed(
        kind,
        tuple(e for e, error in zip(endpoints, errors, strict=True) if error is None),
        {e: error for e, error in zip(endpoints, errors, strict=True) if error is not None},
    )
    if not probed.live:
        why = "; ".join(f"{e}: {error}" for e, error in probed.dead.items())
        raise ReconcileError(f"no {kind} answers ({why})")
    return probed


# ---- Kafka reads ------------------------------------------------------------------------------


def _consumer(bootstrap: str | Sequence[str], group: str | None = None) -> KafkaConsumer:
    """A consumer whose waits are bounded. Its bootstrap is eager and bounded: kafka-python
    (3.0) learns the API version from the broker it bootstraps from, trying the listed ones in
    turn until KAFKA_BOOTSTRAP_TIMEOUT_MS. (Given an ``api_version`` it bootstraps lazily with
    no bound: a ``bootstrap(timeout_ms=15000)`` on a dead broker was still waiting after 60 s.)
    Callers list only the brokers that answered ``probe``."""
    servers = list(split_list(bootstrap)) if isinstance(bootstrap, str) else list(bootstrap)
    return KafkaConsumer(
        bootstrap_servers=servers,
        group_id=group,
        enable_auto_commit=False,
        request_timeout_ms=KAFKA_REQUEST_TIMEOUT_MS,
        bootstrap_timeout_ms=KAFKA_BOOTSTRAP_TIMEOUT_MS,
    )


def _committed(consumer: KafkaConsumer, partition: TopicPartition) -> int | None:
    offset: int | None = consumer.committed(partition, timeout_ms=KAFKA_REQUEST_TIMEOUT_MS)
    return offset


def _partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        raise ReconcileError(f"topic {topic!r} does not exist (or has no partitions)")
    return [TopicPartition(topic, p) for p in sorted(found)]


def end_offsets(bootstrap: str | Sequence[str], topic: str) -> dict[int, int]:
    """Partition → offset after its last record."""
    consumer = _consumer(bootstrap)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def committed_offsets(bootstrap: str | Sequence[str], group: str, topic: str) -> dict[int, int]:
    """Partition → the group's committed offset (next to read), for partitions it committed.
    The consumer asking never joins the group, so it does not disturb the group's members."""
    consumer = _consumer(bootstrap, group)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        offsets = {p: _committed(consumer, TopicPartition(topic, p)) for p in partitions}
        return {p: o for p, o in offsets.items() if o is not None}
    finally:
        consumer.close()


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class TopicContents:
    records: list[KafkaRecord]
    log_start: dict[int, int]  # partition → its first offset still held (retention moves it)


def read_topic(bootstrap: str | Sequence[str], topic: str, timeout_s: float) -> TopicContents:
    """Every record of ``topic``, from each partition's start to its end offset when called."""
    consumer = _consumer(bootstrap)
    try:
        partitions = _partitions(consumer, topic)
        consumer.assign(partitions)
        starts = consumer.beginning_offsets(partitions)
        ends = consumer.end_offsets(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[KafkaRecord] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise ReconcileError(f"topic {topic!r} was not read to its end in {timeout_s} s")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(
                    KafkaRecord(r.partition, r.offset, r.timestamp, r.key, r.value)
                    for r in batch
                    if r.offset < ends[TopicPartition(topic, r.partition)]
                )
        return TopicContents(records, {tp.partition: offset for tp, offset in starts.items()})
    finally:
        consumer.close()


# ---- waiting for the topology to drain --------------------------------------------------------


@dataclass(frozen=True)
class OffsetsSeen:
    committed: dict[int, int]
    ends: dict[int, int]

    @property
    def lag(self) -> int:
        return sum(max(0, end - self.committed.get(p, 0)) for p, end in self.ends.items())

    @property
    def drained(self) -> bool:
        return self.lag == 0


def wait_until_drained(
    bootstrap: str | Sequence[str],
    topic: str,
    group: str,
    timeout_s: float,
    *,
    settle_s: float,
    progress: Callable[[str], None],
) -> OffsetsSeen:
    """Bounded wait until ``group`` has committed every partition of ``topic`` to its end and
    neither moved for ``settle_s`` (a producer still publishing restarts the clock). A Kafka
    error while asking (a partition's leadership moving off a dead broker) is reported and
    asked again, within the same bound."""
    consumer = _consumer(bootstrap, group)
    try:
        partitions = _partitions(consumer, topic)
        start = time.monotonic()
        last_report = start
        drained_since: float | None = None
        drained_state: OffsetsSeen | None = None
        seen = OffsetsSeen({}, {})
        while True:
            now = time.monotonic()
            try:
                ends = {tp.partition: o for tp, o in consumer.end_offsets(partitions).items()}
                committed = {tp.partition: _committed(consumer, tp) for tp in partitions}
            except KafkaError as error:
                if now - start > timeout_s:
                    raise
                progress(f"asking Kafka again after {type(error).__name__}: {error}")
                drained_since = drained_state = None
                time.sleep(POLL_INTERVAL_S)
                continue
            seen = OffsetsSeen({p: o for p, o in committed.items() if o is not None}, ends)
            if not seen.drained or seen != drained_state:
                drained_since, drained_state = (now, seen) if seen.drained else (None, None)
            if drained_since is not None and now - drained_since >= settle_s:
                progress(
                    f"drained: {sum(ends.values()):,} records, all committed "
                    f"(drained after {drained_since - start:.1f} s of waiting)"
                )
                return seen
            if now - start > timeout_s:
                raise ReconcileError(
                    f"group {group!r} still {seen.lag:,} records behind on {topic!r} after "
                    f"{timeout_s:.0f} s (committed {seen.committed}, end {seen.ends})"
                )
            if now - last_report >= PROGRESS_INTERVAL_S:
                last_report = now
                progress(
                    f"waiting for the topology: {seen.lag:,} of {sum(ends.values()):,} records "
                    f"not yet committed by {group!r} ({now - start:.0f} s)"
                )
            time.sleep(POLL_INTERVAL_S)
    finally:
        consumer.close()


# ---- HBase reads ------------------------------------------------------------------------------


def read_table(hosts: Sequence[str], port: int, table: str, timeout_ms: int = 120_000) -> Rows:
    """Every row of ``table``, through the first Thrift server that answers."""
    problems = []
    for host in hosts:
        try:
            connection = happybase.Connection(host, port, timeout=timeout_ms)
        except CONNECTION_ERRORS as error:
            problems.append(f"{host}:{port}: {error}")
            continue
        try:
            if table.encode() not in connection.tables():
                raise ReconcileError(f"HBase has no table {table!r} (asked {host}:{port})")
            rows: Rows = {}
            for key, cells in connection.table(table).scan(batch_size=1000):
                rows[key.decode("utf-8", errors="backslashreplace")] = cells
            return rows
        except CONNECTION_ERRORS as error:
            problems.append(f"{host}:{port}: {error}")
        finally:
            connection.close()
    raise ReconcileError(f"no HBase Thrift server could be read: {'; '.join(problems)}")


# ---- what must have happened ------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedRow:
    applicant: Applicant
    outcome: Outcome


@dataclass
class Expectation:
    """What the pipeline must have done with each record of the topic."""

    topic: str
    published: int
    rows: dict[str, ExpectedRow] = field(default_factory=dict)  # member_id → row
    dead_letters: dict[Position, DeadLetter] = field(default_factory=dict)  # parse/clean stage
    refused: dict[Position, Applicant] = field(default_factory=dict)  # score stage
    superseded: int = 0  # valid records whose member was published again later


@dataclass
class Triaged:
    topic: str
    published: int
    latest: dict[str, Applicant]  # member_id → its latest valid record
    dead_letters: dict[Position, DeadLetter]
    superseded: int


def _recency(applicant: Applicant) -> tuple[int, int, int]:
    return (applicant.kafka_timestamp_ms, applicant.partition, applicant.offset)


def triage_published(records: Iterable[KafkaRecord], topic: str) -> Triaged:
    """Parse and clean every record as the clean bolt does; the latest record of each member."""
    latest: dict[str, Applicant] = {}
    dead_letters: dict[Position, DeadLetter] = {}
    published = superseded = 0
    for record in records:
        published += 1
        source = SourceRecord.from_bytes(
            topic, record.partition, record.offset, record.timestamp_ms, record.value
        )
        outcome = triage(source)
        if isinstance(outcome, DeadLetter):
            dead_letters[(record.partition, record.offset)] = outcome
            continue
        earlier = latest.get(outcome.member_id)
        if earlier is not None:
            superseded += 1
            if _recency(earlier) > _recency(outcome):
                continue
        latest[outcome.member_id] = outcome
    return Triaged(topic, published, latest, dead_letters, superseded)


def expect(
    triaged: Triaged,
    score: Callable[[list[Applicant], list[Outcome | None]], list[Outcome]],
    refused_at: Collection[Position] = (),
) -> Expectation:
    """Decide every applicant with the pipeline's rules and ``score`` (the risk service). Those
    at ``refused_at`` that the rules leave to scoring were refused by the risk service
    (dead letters of stage ``score``): they are expected there, not in HBase."""
    expectation = Expectation(
        triaged.topic,
        triaged.published,
        dead_letters=dict(triaged.dead_letters),
        superseded=triaged.superseded,
    )
    applicants = list(triaged.latest.values())
    ruled = apply_rules(applicants)
    to_decide: list[Applicant] = []
    outcomes: list[Outcome | None] = []
    for applicant, outcome in zip(applicants, ruled, strict=True):
        position = (applicant.partition, applicant.offset)
        if outcome is None and position in refused_at:
            expectation.refused[position] = applicant
        else:
            to_decide.append(applicant)
            outcomes.append(outcome)
    decided = score(to_decide, outcomes)
    expectation.rows = {
        a.member_id: ExpectedRow(a, o) for a, o in zip(to_decide, decided, strict=True)
    }
    return expectation


def risk_service_scorer(
    settings: RiskServiceSettings,
) -> Callable[[list[Applicant], list[Outcome | None]], list[Outcome]]:
    """Scores the applicants the rules left undecided with the risk service, as the score bolt
    does (lendstream.pipeline.flow.apply_scores)."""

    def score(applicants: list[Applicant], outcomes: list[Outcome | None]) -> list[Outcome]:
        client = RiskServiceClient(settings)
        try:
            return apply_scores(applicants, outcomes, client)
        except ScoringError as error:
            raise ReconcileError(f"the risk service could not score: {error}") from error
        finally:
            client.close()

    return score


# ---- the comparison ---------------------------------------------------------------------------


def row_differences(
    member_id: str, expected: ExpectedRow, cells: Mapping[bytes, bytes]
) -> list[str]:
    """How a stored row differs from the cells the save bolt writes for it (none: equal).
    The probability is compared as a number (a batch's arithmetic may differ in the last bit)."""
    wanted = row_cells(expected.applicant, expected.outcome)
    problems = []
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
    other_topic_dead_letters: int = 0
    model_versions: Counter[str] = field(default_factory=Counter)
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
            "extra_rows": self.extra_rows,
            "extra_row_keys": self.extra_row_keys,
            "older_dead_letters": self.older_dead_letters,
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
            report.differences.append(f"row {member_id} missing (decided {expected.outcome})")
            continue
        report.stored += 1
        report.decisions[cells.get(b"result:decision", b"?").decode(errors="replace")] += 1
        if b"result:model_version" in cells:
            report.model_versions[cells[b"result:model_version"].decode(errors="replace")] += 1
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


def _compare_dead_letters(
    expectation: Expectation,
    dead_letter_records: Iterable[KafkaRecord],
    log_start: Mapping[int, int],
    report: Report,
) -> None:
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
    for position, (key, value) in sorted(by_source.items()):
        wanted = _wanted_dead_letter(expectation, position, value)
        if wanted is None:
            if position[1] < log_start.get(position[0], 0):
                report.older_dead_letters += 1
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


# ---- the command ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    bootstrap: tuple[str, ...]
    topic: str
    dead_letter_topic: str
    group: str
    hbase_hosts: tuple[str, ...]
    hbase_port: int
    table: str
    risk: RiskServiceSettings
    drain_timeout_s: float
    settle_s: float
    read_timeout_s: float


def probe_endpoints(settings: Settings, timeout_s: float = PROBE_TIMEOUT_S) -> list[Probed]:
    """Kafka brokers, HBase Thrift servers and risk services, each probed (see ``probe``)."""
    return [
        probe("Kafka broker", settings.bootstrap, broker_address, timeout_s),
        probe(
            "HBase Thrift server",
            settings.hbase_hosts,
            lambda host: (host, settings.hbase_port),
            timeout_s,
        ),
        probe("risk service", settings.risk.urls, url_address, timeout_s),
    ]


def with_live_endpoints(settings: Settings, probed: Sequence[Probed]) -> Settings:
    """``settings`` with only the endpoints that answered (``probed`` as ``probe_endpoints``)."""
    brokers, thrift_servers, risk_services = probed
    risk = dataclasses.replace(
        settings.risk, base_url=risk_services.live[0], failover_urls=risk_services.live[1:]
    )
    return dataclasses.replace(
        settings, bootstrap=brokers.live, hbase_hosts=thrift_servers.live, risk=risk
    )


def reconcile(settings: Settings, progress: Callable[[str], None]) -> Report:
    """Skip the endpoints that do not answer, wait for the drain, read everything, work out what
    must have happened, compare."""
    probed = probe_endpoints(settings)
    for kind in probed:
        for endpoint, why in kind.dead.items():
            progress(f"skipping {kind.kind} {endpoint}: it does not answer ({why})")
    settings = with_live_endpoints(settings, probed)
    report = _reconcile_live(settings, progress)
    report.unreachable = {kind.kind: kind.dead for kind in probed if kind.dead}
    return report


def _reconcile_live(settings: Settings, progress: Callable[[str], None]) -> Report:
    wait_until_drained(
        settings.bootstrap,
        settings.topic,
        settings.group,
        settings.drain_timeout_s,
        settle_s=settings.settle_s,
        progress=progress,
    )
    published = read_topic(settings.bootstrap, settings.topic, settings.read_timeout_s)
    progress(f"read {len(published.records):,} records of {settings.topic}")
    letters = read_topic(settings.bootstrap, settings.dead_letter_topic, settings.read_timeout_s)
    progress(f"read {len(letters.records):,} dead letters of {settings.dead_letter_topic}")
    triaged = triage_published(published.records, settings.topic)
    refused = refused_positions(letters.records, settings.topic)
    expectation = expect(triaged, risk_service_scorer(settings.risk), refused_at=refused)
    progress(f"decided {len(expectation.rows):,} applicants with the rules and the risk service")
    rows = read_table(settings.hbase_hosts, settings.hbase_port, settings.table)
    progress(f"read {len(rows):,} rows of {settings.table}")
    return compare(expectation, rows, letters.records, published.log_start)


def parse_arguments(argv: Sequence[str] | None) -> tuple[Settings, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m lendstream.reconcile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    required = parser.add_argument_group("where the pipeline is (all required)")
    for flag, text in (
        ("--bootstrap", "Kafka brokers, host:port,host:port"),
        ("--topic", "the applicant topic"),
        ("--dead-letter-topic", "the dead-letter topic"),
        ("--group", "the topology's consumer group"),
        ("--hbase-hosts", "HBase Thrift servers, host,host (the first that answers is read)"),
        ("--table", "the HBase table"),
        ("--risk-url", "risk services, http://host:port,… (failed over in turn)"),
        ("--risk-token-file", "file holding the risk service's bearer token"),
    ):
        required.add_argument(flag, required=True, help=text)
    required.add_argument("--hbase-port", type=int, required=True, help="HBase Thrift port")
    parser.add_argument("--drain-timeout-s", type=float, default=600.0)
    parser.add_argument(
        "--settle-s", type=float, default=5.0, help="how long drained offsets must stay put"
    )
    parser.add_argument("--read-timeout-s", type=float, default=600.0, help="per topic read")
    parser.add_argument("--max-differences", type=int, default=20, help="how many to print")
    parser.add_argument("--json", action="store_true", help="the summary as one JSON object")
    args = parser.parse_args(argv)
    risk_urls = split_list(args.risk_url)
    if not risk_urls:
        parser.error("--risk-url names no risk service")
    for flag, endpoints, address in (
        ("--bootstrap", split_list(args.bootstrap), broker_address),
        ("--risk-url", risk_urls, url_address),
    ):
        try:
            for endpoint in endpoints:
                address(endpoint)
        except ValueError as error:
            parser.error(f"{flag}: {error}")
    try:
        risk = RiskServiceSettings.from_token_file(
            risk_urls[0], args.risk_token_file, failover_urls=risk_urls[1:]
        )
    except OSError as error:
        parser.error(f"cannot read --risk-token-file: {error}")
    settings = Settings(
        bootstrap=split_list(args.bootstrap),
        topic=args.topic,
        dead_letter_topic=args.dead_letter_topic,
        group=args.group,
        hbase_hosts=split_list(args.hbase_hosts),
        hbase_port=args.hbase_port,
        table=args.table,
        risk=risk,
        drain_timeout_s=args.drain_timeout_s,
        settle_s=args.settle_s,
        read_timeout_s=args.read_timeout_s,
    )
    return settings, args


def summary_lines(report: Report, max_differences: int) -> list[str]:
    lines = [
        f"published        {report.published:>10,}",
        f"stored           {report.stored:>10,}",
        *(f"  {decision:<14} {count:>10,}" for decision, count in sorted(report.decisions.items())),
        f"dead-lettered    {report.dead_lettered:>10,}  ({report.dead_letter_messages:,} messages)",
        f"superseded       {report.superseded:>10,}  (member published again later)",
        f"extra rows       {report.extra_rows:>10,}  (in the table, not explained by the topic)",
    ]
    if report.extra_row_keys:
        lines.append(f"  e.g. {', '.join(report.extra_row_keys)}")
    if report.older_dead_letters or report.other_topic_dead_letters:
        lines.append(
            f"dead letters of older records {report.older_dead_letters:,}, "
            f"of other topics {report.other_topic_dead_letters:,}"
        )
    if report.model_versions:
        versions = ", ".join(f"{v} ({n:,})" for v, n in sorted(report.model_versions.items()))
        lines.append(f"model versions   {versions}")
    for kind, dead in sorted(report.unreachable.items()):
        for endpoint, why in sorted(dead.items()):
            lines.append(f"skipped {kind} {endpoint}: did not answer ({why})")
    if report.reconciled:
        lines.append(
            "RECONCILED: published = stored + dead-lettered + superseded, every row as decided"
        )
    else:
        lines.append(f"NOT RECONCILED: {len(report.differences):,} differences, the first:")
        lines.extend(f"  {problem}" for problem in report.differences[:max_differences])
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    settings, args = parse_arguments(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        report = reconcile(settings, progress)
    except (ReconcileError, KafkaError, *CONNECTION_ERRORS) as error:
        print(f"could not reconcile: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(args.max_differences), indent=2))
    else:
        print("\n".join(summary_lines(report, args.max_differences)))
    return 0 if report.reconciled else 1


if __name__ == "__main__":
    sys.exit(main())
