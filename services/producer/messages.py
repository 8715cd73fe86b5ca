"""Turning an applicant served by the API into a Kafka record, and choosing its partition.

Key: ``member_id`` (UTF-8); value: the applicant as JSON, ``id`` included; header
``applicant_id``: the row id as a decimal string. The partition is chosen here, not by the
client: keyed records go where Kafka's default partitioner sends them (murmur2 of the key), and
records without a ``member_id`` go to ``id mod partitions`` — deterministic either way, which the
start-up reconciliation relies on (records of one partition arrive in order).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kafka.partitioner.default import murmur2

APPLICANT_ID_HEADER = "applicant_id"


class UnpublishableEntryError(ValueError):
    """An entry of an API page that cannot become a record (no row id, unencodable key)."""


@dataclass(frozen=True, slots=True)
class ApplicantRecord:
    applicant_id: int
    key: bytes | None
    value: bytes

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        return [(APPLICANT_ID_HEADER, str(self.applicant_id).encode("ascii"))]

    def partition(self, partitions: int) -> int:
        """The partition this record goes to, among ``partitions`` (numbered from 0)."""
        if self.key is not None:
            return (murmur2(self.key) & 0x7FFFFFFF) % partitions
        return self.applicant_id % partitions


def applicant_id_of(entry: Any) -> int | None:
    """The row id of an API entry, or ``None`` when it has no usable one."""
    if not isinstance(entry, dict):
        return None
    value = entry.get("id")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


def to_record(entry: Any) -> ApplicantRecord:
    """The Kafka record for one applicant, or :class:`UnpublishableEntryError` saying why not."""
    applicant_id = applicant_id_of(entry)
    if applicant_id is None:
        raise UnpublishableEntryError(f"entry has no positive integer id: {entry!r:.200}")
    member_id = entry.get("member_id")
    key = None
    if member_id is not None and member_id != "":
        try:
            key = str(member_id).encode("utf-8")
        except UnicodeEncodeError:
            raise UnpublishableEntryError(
                f"applicant {applicant_id}: member_id {member_id!r:.80} is not valid Unicode"
            ) from None
    # ensure_ascii: any string the API sent (even a lone surrogate) becomes valid JSON.
    value = json.dumps(entry, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return ApplicantRecord(applicant_id=applicant_id, key=key, value=value)


def header_applicant_id(headers: Any) -> int | None:
    """The ``applicant_id`` header of a consumed record, or ``None``."""
    for name, value in headers or ():
        if name == APPLICANT_ID_HEADER and value is not None:
            try:
                return int(value.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                return None
    return None
