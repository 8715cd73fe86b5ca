"""One applicant's way through the pipeline, shared by the topology's bolts and the baseline loop.

A Kafka record becomes either a :class:`~lendstream.pipeline.dead_letter.DeadLetter` (it cannot be
parsed or cleaned) or an *item*: a JSON-ready dict that travels between the bolts and grows at each
stage::

    triage  → {"member_id", "raw", "clean", "kafka_timestamp_ms", "partition", "offset"}
    decide  → + {"decision": "rejected", "rule", "detail"}   (else no "decision" yet)
    score   → + {"decision", "probability_of_default", "model_version"}

Items are plain dicts on purpose: they cross the multilang JSON protocol unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lendstream.pipeline.dead_letter import DeadLetter, Source
from lendstream.pipeline.record import CleanApplicant
from lendstream.pipeline.rules import InvalidApplicant, clean, decide
from lendstream.pipeline.scoring import RiskServiceClient, clean_dict

Item = dict[str, Any]

REJECTED = "rejected"


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
        """Compact form for a spout tuple."""
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


def triage(record: SourceRecord) -> Item | DeadLetter:
    """Parse and clean one record: an item for the next stage, or its dead letter."""
    if record.value is None:
        reason = (
            "value is missing"
            if record.raw_bytes_preview == "<null value>"
            else ("value is not UTF-8 text")
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
    return {
        "member_id": applicant.member_id,
        "raw": record.value,
        "clean": clean_dict(applicant),
        "kafka_timestamp_ms": record.timestamp_ms,
        "partition": record.partition,
        "offset": record.offset,
    }


def triage_all(records: Iterable[SourceRecord]) -> tuple[list[Item], list[DeadLetter]]:
    items: list[Item] = []
    dead_letters: list[DeadLetter] = []
    for record in records:
        outcome = triage(record)
        if isinstance(outcome, DeadLetter):
            dead_letters.append(outcome)
        else:
            items.append(outcome)
    return items, dead_letters


def apply_rules(items: Iterable[Item]) -> list[Item]:
    """Mark items a business rule rejects; the others are left for scoring."""
    decided = []
    for item in items:
        rejection = decide(CleanApplicant(**item["clean"]))
        if rejection is None:
            decided.append(item)
        else:
            rule, detail = rejection.rule, rejection.detail
            decided.append({**item, "decision": REJECTED, "rule": rule, "detail": detail})
    return decided


def apply_scores(items: Sequence[Item], client: RiskServiceClient) -> list[Item]:
    """Score every item not yet decided, in batched requests; raises ScoringError on failure."""
    to_score = [item for item in items if "decision" not in item]
    if not to_score:
        return list(items)
    scores = client.score_dicts([item["clean"] for item in to_score])
    by_position = {id(item): score for item, score in zip(to_score, scores, strict=True)}
    scored = []
    for item in items:
        score = by_position.get(id(item))
        if score is None:
            scored.append(item)
            continue
        scored.append(
            {
                **item,
                "decision": score.decision,
                "probability_of_default": score.probability_of_default,
                "model_version": score.model_version,
            }
        )
    return scored
