"""Dead letters: records the pipeline cannot parse or clean, published with their reason.

The message follows docs/architecture.md: key ``member_id`` when known, value
``{"reason", "stage", "record", "source": {"topic", "partition", "offset"}}``. Delivery is
at-least-once: a replayed record may be dead-lettered twice, so consumers deduplicate by
``source`` (topic, partition, offset), which identifies the original record exactly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer

from lendstream.kafka_client import PLAINTEXT_SECURITY, KafkaSecurity

STAGES = ("parse", "clean", "score")
# A record re-driven from the dead-letter topic (``lendstream dlq redrive``) carries the dead
# letter's source, as ``Source.key()``, in this header.
REDRIVE_HEADER = "lendstream-redrive-of"


@dataclass(frozen=True, slots=True)
class Source:
    topic: str
    partition: int
    offset: int

    def key(self) -> str:
        """``topic/partition/offset``: the re-drive header's value and the re-drive log's key."""
        return f"{self.topic}/{self.partition}/{self.offset}"

    @classmethod
    def from_key(cls, key: str) -> Source | None:
        """The source a ``key()`` names; ``None`` when ``key`` is not one (topic names hold no
        slash)."""
        topic, _, rest = key.rpartition("/")
        topic, _, partition = topic.rpartition("/")
        if not topic or not partition.isdigit() or not rest.isdigit():
            return None
        return cls(topic, int(partition), int(rest))


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    stage: str
    record: Any  # the raw JSON value, or the text that could not be decoded
    source: Source
    member_id: str | None

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {self.stage!r}")

    def message_value(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "stage": self.stage,
            "record": self.record,
            "source": {
                "topic": self.source.topic,
                "partition": self.source.partition,
                "offset": self.source.offset,
            },
        }

    def message_key(self) -> bytes | None:
        return None if self.member_id is None else self.member_id.encode("utf-8")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for a tuple between bolts."""
        return {**self.message_value(), "member_id": self.member_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeadLetter:
        source = data["source"]
        return cls(
            reason=data["reason"],
            stage=data["stage"],
            record=data["record"],
            source=Source(source["topic"], int(source["partition"]), int(source["offset"])),
            member_id=data.get("member_id"),
        )


class DeadLetterPublisher:
    """Publishes dead letters with acks=all and waits for every acknowledgement."""

    def __init__(
        self,
        bootstrap_servers: str | Sequence[str],
        topic: str,
        timeout_s: float = 30.0,
        security: KafkaSecurity = PLAINTEXT_SECURITY,
    ) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers,
            acks="all",
            linger_ms=5,
            retries=5,
            value_serializer=lambda value: json.dumps(value, ensure_ascii=False).encode("utf-8"),
            **security.client_options(),
        )

    def publish(self, dead_letters: Sequence[DeadLetter]) -> None:
        """Send and wait; raises (a KafkaError) if any was not acknowledged."""
        futures = [
            self._producer.send(self.topic, key=letter.message_key(), value=letter.message_value())
            for letter in dead_letters
        ]
        self._producer.flush(timeout=self.timeout_s)
        for future in futures:
            future.get(timeout=self.timeout_s)

    def close(self) -> None:
        self._producer.close(timeout=self.timeout_s)
