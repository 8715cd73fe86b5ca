"""One applicant's way through the pipeline, shared by the topology's bolts and the baseline loop.

A Kafka record becomes either a :class:`~lendstream.pipeline.dead_letter.DeadLetter` (it cannot be
parsed or cleaned) or an :class:`Applicant` carrying its raw text and its clean record as compact
JSON text. The rules and then the risk service give each applicant an :class:`Outcome`.

Between bolts a batch travels as **one string** (:func:`pack`), not as nested JSON: the worker JVM
parses and re-serialises every tuple's values at every multilang hop, and a string costs it one
scan where 500 nested objects cost it thousands of small maps (measured: the JVM spent more CPU per
applicant than all the Python bolts together). That string is the batch's JSON, deflated (zlib) and
then base64 (URL-safe alphabet): about an eighth of the JSON's length, and with no quote or
backslash for the JVM's JSON library to escape and unescape character by character (measured with
JFR: that was nearly all of the worker JVM's CPU). zlib gives the same output for the same input,
so a replayed batch is packed to the same text (lendstream.pipeline.poison relies on that). The
clean JSON text is made once, in the clean bolt, and reused as the risk-service request body and
the HBase ``member:clean`` cell.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lendstream.pipeline.dead_letter import DeadLetter, Source
from lendstream.pipeline.record import CleanApplicant
from lendstream.pipeline.rules import InvalidApplicant, clean, decide_on
from lendstream.pipeline.scoring import RiskServiceClient, ScoringRejectedError

REJECTED = "rejected"
# zlib's levels 1-3 cost the same here; 3 packs a batch of applicants 8x, 1 only 6x (measured).
PACK_COMPRESSION_LEVEL = 3

_compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _pack_text(value: Any) -> str:
    """``value`` as JSON (ASCII: lone surrogates survive as escapes), deflated, then base64."""
    text = json.dumps(value, separators=(",", ":"))
    deflated = zlib.compress(text.encode("ascii"), PACK_COMPRESSION_LEVEL)
    return base64.urlsafe_b64encode(deflated).decode("ascii")


def _unpack_text(text: str) -> Any:
    return json.loads(zlib.decompress(base64.urlsafe_b64decode(text)))


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """What the pipeline needs of one Kafka record. ``value`` is ``None`` if not UTF-8."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    value: str | None
    raw_bytes_preview: str = ""

    @classmethod
    def from_bytes(
        cls, topic: str, partition: int, offset: int, timestamp_ms: int, value: bytes | None
    ) -> SourceRecord:
        if value is None:
            return cls(topic, partition, offset, timestamp_ms, None, "<null value>")
        try:
            return cls(topic, partition, offset, timestamp_ms, value.decode("utf-8"))
        except UnicodeDecodeError:
            preview = value[:2000].decode("utf-8", errors="backslashreplace")
            return cls(topic, partition, offset, timestamp_ms, None, preview)

    def as_list(self) -> list[Any]:
        return [
            self.topic,
            self.partition,
            self.offset,
            self.timestamp_ms,
            self.value,
            self.raw_bytes_preview,
        ]

    @classmethod
    def from_list(cls, values: Sequence[Any]) -> SourceRecord:
        topic, partition, offset, timestamp_ms, value, preview = values
        return cls(str(topic), int(partition), int(offset), int(timestamp_ms), value, preview)

    @property
    def source(self) -> Source:
        return Source(self.topic, self.partition, self.offset)


@dataclass(frozen=True, slots=True)
class Applicant:
    """A valid applicant in flight: its raw text as consumed and its clean record as JSON text."""

    member_id: str
    raw: str
    clean_json: str
    kafka_timestamp_ms: int
    partition: int
    offset: int

    def clean(self) -> CleanApplicant:
        return CleanApplicant(**json.loads(self.clean_json))

    def as_list(self) -> list[Any]:
        return [
            self.member_id,
            self.raw,
            self.clean_json,
            self.kafka_timestamp_ms,
            self.partition,
            self.offset,
        ]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the pipeline decided: ``rejected`` by a rule, or the risk service's decision."""

    decision: str
    rule: str | None = None
    detail: str | None = None
    probability_of_default: float | None = None
    model_version: str | None = None

    def as_list(self) -> list[Any]:
        return [
            self.decision,
            self.rule,
            self.detail,
            self.probability_of_default,
            self.model_version,
        ]

    @classmethod
    def from_list(cls, values: Sequence[Any]) -> Outcome:
        return cls(*values)


Outcomes = list[Outcome | None]  # aligned with a batch's applicants; None: not decided yet


def pack_records(records: Iterable[SourceRecord]) -> str:
    """A batch of Kafka records as one string, for a tuple (see the module's docstring)."""
    return _pack_text([record.as_list() for record in records])


def unpack_records(text: str) -> list[SourceRecord]:
    return [SourceRecord.from_list(values) for values in _unpack_text(text)]


def pack(applicants: Iterable[Applicant]) -> str:
    """A batch of applicants as one string, for a tuple (see the module's docstring)."""
    return _pack_text([applicant.as_list() for applicant in applicants])


def unpack(text: str) -> list[Applicant]:
    return [Applicant(*values) for values in _unpack_text(text)]


def pack_outcomes(outcomes: Outcomes) -> list[Any]:
    return [None if outcome is None else outcome.as_list() for outcome in outcomes]


def unpack_outcomes(values: Sequence[Any] | None, count: int) -> Outcomes:
    if values is None:
        return [None] * count
    return [None if value is None else Outcome.from_list(value) for value in values]


def pack_outcomes_text(outcomes: Outcomes) -> str:
    """A batch's outcomes as one string, packed like the batch (a tuple value)."""
    return _pack_text(pack_outcomes(outcomes))


def unpack_outcomes_text(text: str, count: int) -> Outcomes:
    outcomes = unpack_outcomes(_unpack_text(text), count)
    if len(outcomes) != count:
        raise ValueError(f"{len(outcomes)} outcomes for a batch of {count}")
    return outcomes


def pack_dead_letters(dead_letters: Iterable[DeadLetter]) -> str:
    """Dead letters as one string, packed like a batch (a tuple value of the dead-letter stream)."""
    return _pack_text([letter.as_dict() for letter in dead_letters])


def unpack_dead_letters(text: str) -> list[DeadLetter]:
    return [DeadLetter.from_dict(data) for data in _unpack_text(text)]


def triage(record: SourceRecord) -> Applicant | DeadLetter:
    """Parse and clean one record: an applicant for the next stage, or its dead letter."""
    if record.value is None:
        reason = (
            "value is missing"
            if record.raw_bytes_preview == "<null value>"
            else "value is not UTF-8 text"
        )
        return DeadLetter(reason, "parse", record.raw_bytes_preview, record.source, None)
    try:
        raw = json.loads(record.value)
    except ValueError as error:
        return DeadLetter(f"value is not JSON: {error}", "parse", record.value, record.source, None)
    try:
        applicant = clean(raw)
    except InvalidApplicant as error:
        return DeadLetter(error.reason, "clean", raw, record.source, error.member_id)
    return Applicant(
        member_id=applicant.member_id,
        raw=record.value,
        clean_json=_compact_json(applicant.as_dict()),
        kafka_timestamp_ms=record.timestamp_ms,
        partition=record.partition,
        offset=record.offset,
    )


def triage_all(records: Iterable[SourceRecord]) -> tuple[list[Applicant], list[DeadLetter]]:
    applicants: list[Applicant] = []
    dead_letters: list[DeadLetter] = []
    for record in records:
        outcome = triage(record)
        if isinstance(outcome, DeadLetter):
            dead_letters.append(outcome)
        else:
            applicants.append(outcome)
    return applicants, dead_letters


def apply_rules(applicants: Sequence[Applicant]) -> Outcomes:
    """``rejected`` outcomes where a business rule says so; ``None`` (to be scored) elsewhere."""
    outcomes: Outcomes = []
    for applicant in applicants:
        # The rules read two fields: the clean record's JSON gives them without typing the rest
        # (a CleanApplicant would cost as much again as parsing; the values are the same).
        fields = json.loads(applicant.clean_json)
        rejection = decide_on(fields["grade"], fields["annual_inc"])
        outcomes.append(
            None
            if rejection is None
            else Outcome(REJECTED, rule=rejection.rule, detail=rejection.detail)
        )
    return outcomes


def apply_scores(
    applicants: Sequence[Applicant], outcomes: Outcomes, client: RiskServiceClient
) -> list[Outcome]:
    """Score every applicant not yet decided, in batched requests; raises ScoringError."""
    positions = [index for index, outcome in enumerate(outcomes) if outcome is None]
    decided: list[Outcome] = [outcome for outcome in outcomes if outcome is not None]
    if not positions:
        return decided
    scores = client.score_clean_json(
        [applicants[i].clean_json for i in positions], [applicants[i].member_id for i in positions]
    )
    complete = list(outcomes)
    for index, score in zip(positions, scores, strict=True):
        complete[index] = Outcome(
            score.decision,
            probability_of_default=score.probability_of_default,
            model_version=score.model_version,
        )
    return [outcome for outcome in complete if outcome is not None]


def score_batch(
    applicants: Sequence[Applicant], outcomes: Outcomes, client: RiskServiceClient, *, split: bool
) -> tuple[Outcomes, dict[int, str]]:
    """Score the applicants the rules left undecided, for the score bolt: the outcomes (``None``
    where refused) and, by position, why the risk service refused an applicant.

    A 422 that names applicants refuses only those: the rest are scored in a second request. A
    refusal that names nobody raises :class:`ScoringRejectedError` — unless ``split``, when the
    request is split in halves, down to the single applicants refused alone (a poison batch, see
    lendstream.pipeline.poison). Systemic failures raise :class:`ScoringError`; then nothing of
    this batch may be dead-lettered (the caller fails it for replay).
    """
    complete = list(outcomes)
    refused: dict[int, str] = {}
    pending = [index for index, outcome in enumerate(outcomes) if outcome is None]
    _score_positions(applicants, pending, complete, refused, client=client, split=split)
    return complete, refused


def _score_positions(
    applicants: Sequence[Applicant],
    positions: list[int],
    complete: Outcomes,
    refused: dict[int, str],
    *,
    client: RiskServiceClient,
    split: bool,
) -> None:
    while positions:  # each refusal naming applicants takes at least one out: bounded
        try:
            scores = client.score_clean_json(
                [applicants[i].clean_json for i in positions],
                [applicants[i].member_id for i in positions],
            )
        except ScoringRejectedError as error:
            if error.named:
                for index, reason in error.named.items():
                    refused[positions[index]] = f"risk service refused it: {reason}"
                positions = [p for i, p in enumerate(positions) if i not in error.named]
                continue
            if not split:
                raise
            if len(positions) == 1:
                refused[positions[0]] = f"risk service refused it alone: {error.answer}"
                return
            middle = len(positions) // 2
            _score_positions(
                applicants, positions[:middle], complete, refused, client=client, split=split
            )
            _score_positions(
                applicants, positions[middle:], complete, refused, client=client, split=split
            )
            return
        for index, score in zip(positions, scores, strict=True):
            complete[index] = Outcome(
                score.decision,
                probability_of_default=score.probability_of_default,
                model_version=score.model_version,
            )
        return


def divert(
    applicants: Sequence[Applicant], outcomes: Outcomes, refused: Mapping[int, str], topic: str
) -> tuple[list[Applicant], list[Outcome], list[DeadLetter]]:
    """Split a scored batch: the applicants to store with their outcomes, and the dead letters
    (stage ``score``, the refusal as reason) of those the risk service refused. An applicant
    is in exactly one of the two."""
    kept: list[Applicant] = []
    kept_outcomes: list[Outcome] = []
    dead_letters: list[DeadLetter] = []
    for index, (applicant, outcome) in enumerate(zip(applicants, outcomes, strict=True)):
        if index in refused:
            source = Source(topic, applicant.partition, applicant.offset)
            record = json.loads(applicant.raw)
            dead_letters.append(
                DeadLetter(refused[index], "score", record, source, applicant.member_id)
            )
        elif outcome is None:
            raise ValueError(f"applicant {applicant.member_id!r} was neither scored nor refused")
        else:
            kept.append(applicant)
            kept_outcomes.append(outcome)
    return kept, kept_outcomes, dead_letters
