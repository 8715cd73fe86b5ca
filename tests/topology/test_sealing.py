"""Sealing the tuples between the topology's components (lendstream.pipeline.sealing)."""

from __future__ import annotations

import base64
import json
import secrets
import zlib
from pathlib import Path

import pytest
from applicants import raw_applicant

from lendstream.pipeline.flow import (
    SourceRecord,
    pack,
    pack_dead_letters,
    pack_outcomes_text,
    triage_all,
    unpack,
    unpack_dead_letters,
    unpack_outcomes_text,
)
from lendstream.pipeline.sealing import (
    NONCE_BYTES,
    SEALED_PREFIX,
    Sealer,
    SealError,
    context,
    parse_key,
)

KEY = secrets.token_bytes(32)
TO_SCORE = context("score", "applicants", "route-1")


def batch(count: int = 50) -> str:
    records = [
        SourceRecord("t", 0, i, 1_700_000_000_000, json.dumps(raw_applicant(f"SEAL-{i}")))
        for i in range(count)
    ]
    applicants, letters = triage_all(records)
    assert len(applicants) == count
    assert not letters
    return pack(applicants)


def raw_bytes(sealed: str) -> bytes:
    return base64.urlsafe_b64decode(sealed.removeprefix(SEALED_PREFIX))


def test_a_sealed_batch_opens_to_the_same_batch_and_no_longer_inflates() -> None:
    packed = batch()
    sealer = Sealer(KEY)
    sealed = sealer.seal(packed, TO_SCORE)
    assert sealed.startswith(SEALED_PREFIX)
    assert sealed.isascii()
    assert not set(sealed) & set('"\\/')  # still cheap for the worker JVM to carry
    assert sealer.open(sealed, TO_SCORE) == packed
    assert [a.member_id for a in unpack(sealer.open(sealed, TO_SCORE))] == [
        f"SEAL-{i}" for i in range(50)
    ]
    # What a capture on the wire gets: the packed batch inflates to JSON, the sealed one not.
    assert b"SEAL-7" in zlib.decompress(base64.urlsafe_b64decode(packed))
    with pytest.raises(zlib.error):
        zlib.decompress(raw_bytes(sealed))
    assert "SEAL-" not in sealed
    assert len(sealed) <= len(packed) + len(SEALED_PREFIX) + 40  # nonce and tag in base64


def test_a_tampered_value_is_refused() -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal(batch(5), TO_SCORE)
    raw = bytearray(raw_bytes(sealed))
    for position in (0, NONCE_BYTES, len(raw) // 2, len(raw) - 1):  # nonce, text, tag
        changed = bytearray(raw)
        changed[position] ^= 0x01
        forged = SEALED_PREFIX + base64.urlsafe_b64encode(bytes(changed)).decode()
        with pytest.raises(SealError, match="does not open"):
            sealer.open(forged, TO_SCORE)
    truncated = SEALED_PREFIX + base64.urlsafe_b64encode(bytes(raw[:20])).decode()
    with pytest.raises(SealError, match="too short"):
        sealer.open(truncated, TO_SCORE)
    with pytest.raises(SealError, match="not base64"):
        sealer.open(SEALED_PREFIX + "abc", TO_SCORE)


def test_a_value_sealed_with_another_key_is_refused() -> None:
    sealed = Sealer(secrets.token_bytes(32)).seal(batch(5), TO_SCORE)
    with pytest.raises(SealError, match="another key"):
        Sealer(KEY).open(sealed, TO_SCORE)


@pytest.mark.parametrize(
    "elsewhere",
    [
        context("save", "applicants", "route-1"),  # replayed into another stage
        context("score", "outcomes", "route-1"),  # into another field
        context("score", "applicants", "route-2"),  # next to another batch's outcomes
    ],
)
def test_a_value_opens_only_where_it_was_sealed_for(elsewhere: bytes) -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal(batch(5), TO_SCORE)
    with pytest.raises(SealError, match="does not open"):
        sealer.open(sealed, elsewhere)


def test_every_seal_draws_a_new_nonce() -> None:
    """Sealing the same batch for the same place many times (a replay is sealed again): no
    nonce ever repeats, so no two sealed values are equal."""
    sealer = Sealer(KEY)
    packed = batch(2)
    count = 20_000
    sealed = [sealer.seal(packed, TO_SCORE) for _ in range(count)]
    nonces = {raw_bytes(value)[:NONCE_BYTES] for value in sealed}
    assert len(nonces) == count
    assert len(set(sealed)) == count
    assert all(sealer.open(value, TO_SCORE) == packed for value in sealed[:100])


def test_without_a_key_values_travel_as_they_are_and_sealed_ones_are_refused() -> None:
    plain = Sealer.from_key_file("")
    packed = batch(3)
    assert not plain.enabled
    assert plain.seal(packed, TO_SCORE) == packed
    assert plain.open(packed, TO_SCORE) == packed
    with pytest.raises(SealError, match="no tuple key"):
        plain.open(Sealer(KEY).seal(packed, TO_SCORE), TO_SCORE)
    with pytest.raises(SealError, match="not sealed"):  # an injected plain tuple, on a cluster
        Sealer(KEY).open(packed, TO_SCORE)
    with pytest.raises(SealError, match="NoneType"):
        Sealer(KEY).open(None, TO_SCORE)


def test_the_route_names_a_batch_by_its_contents_keyed_when_sealing() -> None:
    packed, other = batch(3), batch(4)
    sealer = Sealer(KEY)
    assert sealer.route(packed) == Sealer(KEY).route(packed)  # the same on every worker
    assert sealer.route(packed) != sealer.route(other)
    assert sealer.route(packed) != Sealer(None).route(packed)
    assert sealer.route(packed) != Sealer(secrets.token_bytes(32)).route(packed)
    assert len(sealer.route(packed)) == 32


def test_the_key_file_holds_a_vault_secret(tmp_path: Path) -> None:
    text = secrets.token_urlsafe(32)  # as lendstream.secrets makes vault_topology_tuple_key
    path = tmp_path / "tuple.key"
    path.write_text(text + "\n")
    from_file = Sealer.from_key_file(str(path))
    assert from_file.enabled
    assert Sealer(parse_key(text)).open(from_file.seal("eA==", TO_SCORE), TO_SCORE) == "eA=="
    with pytest.raises(SealError, match="16 bytes"):
        parse_key(secrets.token_urlsafe(16))
    with pytest.raises(SealError, match="base64"):
        parse_key("not*base64")
    with pytest.raises(SealError, match="base64"):
        parse_key("")


def test_outcomes_and_dead_letters_travel_packed() -> None:
    records = [
        SourceRecord("t", 0, 1, 0, json.dumps(raw_applicant("A"))),
        SourceRecord("t", 0, 2, 0, "not json"),
    ]
    applicants, letters = triage_all(records)
    assert unpack_dead_letters(pack_dead_letters(letters)) == letters
    text = pack_outcomes_text([None])
    assert unpack_outcomes_text(text, 1) == [None]
    with pytest.raises(ValueError, match="1 outcomes for a batch of 2"):
        unpack_outcomes_text(text, 2)
    assert len(applicants) == 1
