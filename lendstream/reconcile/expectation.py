"""What the pipeline must have done with each record of the applicant topic, worked out with the
pipeline's own functions (lendstream.pipeline.flow: triage, apply_rules, apply_scores, and the
risk service): the same code the bolts run.

A member published more than once is expected with its latest record (Kafka timestamp, then
position); its earlier records are *superseded*. A record re-driven from the dead-letter topic
(``lendstream dlq redrive``) names its original in a header: that original's dead letter is then
accounted as *re-driven*, not as a valid applicant in the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from lendstream.kafka_topics import KafkaRecord
from lendstream.pipeline.dead_letter import REDRIVE_HEADER, DeadLetter, Source
from lendstream.pipeline.flow import (
    Applicant,
    Outcome,
    SourceRecord,
    apply_rules,
    apply_scores,
    triage,
)
from lendstream.pipeline.scoring import RiskServiceClient, RiskServiceSettings, ScoringError
from lendstream.reconcile.errors import CannotReconcileError

Position = tuple[int, int]  # (partition, offset) of a record in the applicant topic


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
    redriven: set[Position] = field(default_factory=set)  # records re-driven from the DLQ


@dataclass
class Triaged:
    topic: str
    published: int
    latest: dict[str, Applicant]  # member_id → its latest valid record
    dead_letters: dict[Position, DeadLetter]
    superseded: int
    redriven: set[Position] = field(default_factory=set)


def redriven_from(record: KafkaRecord, topic: str) -> Position | None:
    """The position in ``topic`` of the original record ``record`` re-drives, if it is one."""
    for name, value in record.headers:
        if name == REDRIVE_HEADER:
            source = Source.from_key(value.decode("utf-8", errors="replace"))
            if source is not None and source.topic == topic:
                return (source.partition, source.offset)
    return None


def _recency(applicant: Applicant) -> tuple[int, int, int]:
    return (applicant.kafka_timestamp_ms, applicant.partition, applicant.offset)


def triage_published(records: Iterable[KafkaRecord], topic: str) -> Triaged:
    """Parse and clean every record as the clean bolt does; the latest record of each member."""
    latest: dict[str, Applicant] = {}
    dead_letters: dict[Position, DeadLetter] = {}
    redriven: set[Position] = set()
    published = superseded = 0
    for record in records:
        published += 1
        original = redriven_from(record, topic)
        if original is not None:
            redriven.add(original)
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
    return Triaged(topic, published, latest, dead_letters, superseded, redriven)


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
        redriven=set(triaged.redriven),
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
            raise CannotReconcileError(f"the risk service could not score: {error}") from error
        finally:
            client.close()

    return score
