"""Sealing what the topology's components hand each other (AES-256-GCM), on a cluster.

Storm 2.8's worker-to-worker transport (Netty, ports 6700-6701) has no TLS: a tuple crosses the
cluster network as Kryo bytes. The packed batch (lendstream.pipeline.flow) is deflated and
base64'd, which is compression, not protection: anyone on that network could inflate it and read
the applicants, or inject tuples. So on a cluster every value a component emits that carries
applicant data (the packed records, applicants, outcomes and dead letters) is **sealed**: an
AEAD (AES-GCM, 256-bit key, from the ``cryptography`` package) encrypts and authenticates it, and
the receiving component opens it before anything else.

- **The key** is made per deployment (``vault_topology_tuple_key`` in the inventory's Vault,
  ``lendstream secrets new``) and written by the topology role to a file on each supervisor
  (root, the workers' group, 0640); the topology setting ``tuple_key_file`` names the file, so
  the key itself never enters the Storm configuration. Without a key file (the single-machine
  stack: one worker, tuples never leave the machine, let alone a process pair's pipes) nothing is
  sealed and a value travels as it did.
- **Subkeys.** The file's 32 bytes are a master key; HKDF-SHA256 derives the AES-GCM key and a
  separate key for :meth:`Sealer.route` (a keyed BLAKE2b digest), so no key serves two algorithms.
- **Nonces.** Each seal draws a fresh random 96-bit nonce (``os.urandom``). Two seals under one
  key collide with probability about n²/2⁹⁷ after n seals; the topology seals a handful of values
  per batch, a few hundred per second at most, so n stays below 2³² (the usual bound for random
  GCM nonces, collision chance below 2⁻³²) for months: rotate the key well within that
  (docs/security.md, "Storm"). A deterministic nonce would let a replayed batch, sealed again
  with the same nonce, repeat one; random nonces never depend on what is sealed.
- **Associated data** binds a sealed value to the component that must open it, the tuple field
  and the batch's route (:func:`context`): a value captured on its way to ``decide`` does not open
  in ``score`` or ``save``, and outcomes do not open next to another batch's applicants.
- **Routing.** Random nonces make two seals of one batch differ, but the score bolt's fields
  grouping must send every replay of a batch to the same task (lendstream.pipeline.poison): the
  tuples therefore carry :meth:`Sealer.route`, a digest of the packed (plain) batch, keyed so it
  confirms no guess of the contents, which the grouping reads.

A value that does not open (tampered, sealed with another key, sealed for another component, not
sealed though it must be, or sealed where no key is set) raises :class:`SealError`; the bolts
treat it as a **systemic** failure: the tuple fails and the spout replays the batch, nothing is
dead-lettered (docs/topology.md, "Failures: systemic or record-caused").

A sealed value is ``"S1." + base64url(nonce ‖ ciphertext ‖ tag)``: ``.`` is outside the base64url
alphabet of a packed batch, so a sealed value is never mistaken for a plain one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEALED_PREFIX = "S1."
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
ROUTE_BYTES = 16
_SEAL_INFO = b"lendstream tuple seal v1"
_ROUTE_INFO = b"lendstream batch route v1"
_URLSAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]+")


class SealError(ValueError):
    """A value that does not open; says why, never what it holds."""


def context(receiver: str, field: str, route: str = "") -> bytes:
    """The associated data of a value sealed for component ``receiver``'s ``field``."""
    return f"lendstream/v1/{receiver}/{field}/{route}".encode()


def parse_key(text: str) -> bytes:
    """The 32 key bytes of a key file's text: URL-safe base64, padded or not (as the Vault's
    secrets are made, ``secrets.token_urlsafe(32)``)."""
    stripped = text.strip().rstrip("=")
    if not _URLSAFE_BASE64.fullmatch(stripped):
        raise SealError("the tuple key is not URL-safe base64")
    try:
        key = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as error:
        raise SealError("the tuple key is not URL-safe base64") from error
    if len(key) != KEY_BYTES:
        raise SealError(f"the tuple key has {len(key)} bytes, not {KEY_BYTES}")
    return key


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(master)


class Sealer:
    """Seals and opens one component's values; without a key it passes them through unsealed."""

    def __init__(self, master_key: bytes | None = None) -> None:
        if master_key is not None and len(master_key) != KEY_BYTES:
            raise SealError(f"the tuple key has {len(master_key)} bytes, not {KEY_BYTES}")
        self._aead = None if master_key is None else AESGCM(_derive(master_key, _SEAL_INFO))
        self._route_key = b"" if master_key is None else _derive(master_key, _ROUTE_INFO)

    @classmethod
    def from_key_file(cls, path: str) -> Sealer:
        """The sealer of a key file (read once, when a component starts); ``""``: none."""
        if not path:
            return cls(None)
        return cls(parse_key(Path(path).read_text(encoding="ascii")))

    @property
    def enabled(self) -> bool:
        return self._aead is not None

    def route(self, packed: str) -> str:
        """A digest of a packed batch that names it for the fields grouping (keyed when sealing)."""
        return hashlib.blake2b(
            packed.encode("utf-8"), key=self._route_key, digest_size=ROUTE_BYTES
        ).hexdigest()

    def seal(self, packed: str, associated: bytes) -> str:
        """``packed`` (a packed value: URL-safe base64, lendstream.pipeline.flow) sealed for
        ``associated``. The bytes it encodes are sealed, so the sealed value is only the nonce
        and the tag (28 bytes, in base64) longer."""
        if self._aead is None:
            return packed
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, base64.urlsafe_b64decode(packed), associated)
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, value: Any, associated: bytes) -> str:
        """The packed value sealed in ``value`` for ``associated``; raises :class:`SealError`."""
        if not isinstance(value, str):
            raise SealError(f"a {type(value).__name__} where a sealed or packed text belongs")
        sealed = value.startswith(SEALED_PREFIX)
        if self._aead is None:
            if sealed:
                raise SealError("the value is sealed, but this component has no tuple key")
            return value
        if not sealed:
            raise SealError("the value is not sealed, but this component seals and opens them")
        try:
            raw = base64.urlsafe_b64decode(value[len(SEALED_PREFIX) :])
        except (binascii.Error, ValueError) as error:
            raise SealError("the sealed value is not base64") from error
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise SealError("the sealed value is too short")
        try:
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
        except InvalidTag as error:
            raise SealError(
                "the sealed value does not open: tampered with, sealed with another key, or "
                "sealed for another component or batch"
            ) from error
        return base64.urlsafe_b64encode(plain).decode("ascii")
