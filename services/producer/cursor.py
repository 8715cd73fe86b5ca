"""The producer's persisted cursor: how far it has published, saved atomically.

The file holds the topic, ``after`` (every applicant with a row id up to it is acknowledged by
Kafka) and ``offsets`` (per partition, the offset from which records may still be this
producer's unaccounted ones: where the start-up reconciliation begins reading).
It is written to a temporary file in the same directory, fsynced and renamed over the old one, so
a crash leaves either the old or the new cursor, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class CursorError(ValueError):
    """The cursor file is unreadable or belongs to another topic."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Applicants up to ``after`` are published; Kafka may hold more from ``offsets`` on."""

    topic: str
    after: int = 0
    offsets: dict[int, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "after": self.after,
            "offsets": {str(partition): offset for partition, offset in self.offsets.items()},
        }


def load(path: Path, topic: str) -> Cursor | None:
    """The saved cursor for ``topic``, or ``None`` when there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        cursor = Cursor(
            topic=str(data["topic"]),
            after=int(data["after"]),
            offsets={int(p): int(o) for p, o in dict(data.get("offsets", {})).items()},
        )
    except (ValueError, KeyError, TypeError) as error:
        raise CursorError(f"{path} is not a producer cursor ({error}); move it aside") from None
    if cursor.topic != topic:
        raise CursorError(f"{path} is the cursor of topic {cursor.topic!r}, not {topic!r}")
    if cursor.after < 0 or any(o < 0 for o in cursor.offsets.values()):
        raise CursorError(f"{path} holds a negative position: {text[:200]!r}")
    return cursor


def save(path: Path, cursor: Cursor) -> None:
    """Replace the cursor file atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(cursor.as_json(), handle, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
