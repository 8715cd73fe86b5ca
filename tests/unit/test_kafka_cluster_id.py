"""The single-machine stack's KRaft cluster id: URL-safe base64 of a UUID, like
`kafka-storage random-uuid`, and never starting with '-'. One id in 64 would, and the storage
tool's argument parser then reads `--cluster-id -Xyz...` as a missing value (a CI run failed so)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lendstream import secrets
from lendstream.stack import render
from lendstream.stack.layout import StackLayout

KAFKA_CLUSTER_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{21}$")
# 0xF8 = 0b111110..: URL-safe base64 encodes the first six bits (62) as '-'.
DASH_FIRST = uuid.UUID(bytes=b"\xf8" + bytes(15))
LETTER_FIRST = uuid.UUID(bytes=b"\x04" + bytes(15))


def _uuids(*values: uuid.UUID) -> Iterator[uuid.UUID]:
    yield from values


def test_an_id_that_would_start_with_a_dash_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = _uuids(DASH_FIRST, LETTER_FIRST)
    monkeypatch.setattr(secrets.uuid, "uuid4", lambda: next(drawn))
    cluster_id = secrets.new_kafka_cluster_id()
    assert cluster_id.startswith("B")
    assert KAFKA_CLUSTER_ID.match(cluster_id)


def test_the_id_is_generated_once_and_kept(tmp_path: Path) -> None:
    layout = StackLayout(root=tmp_path)
    first = render.kafka_cluster_id(layout)
    assert KAFKA_CLUSTER_ID.match(first)
    assert render.kafka_cluster_id(layout) == first


def test_random_ids_all_fit_the_roles_check() -> None:
    ids = [secrets.new_kafka_cluster_id() for _ in range(2000)]
    assert all(KAFKA_CLUSTER_ID.match(cluster_id) for cluster_id in ids)
    assert len(set(ids)) == len(ids)
