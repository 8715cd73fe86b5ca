"""Bearer-token checks shared by the services: one home for how a token is read and compared.

A token secret holds one token a line, the current one first: during a rotation the new token is
accepted beside the old one.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence


def tokens_from_secret(secret: str) -> tuple[str, ...]:
    """The accepted tokens in a secret's text (one a line; blank lines ignored)."""
    return tuple(line.strip() for line in secret.splitlines() if line.strip())


def authorised(header: str, accepted: Sequence[bytes]) -> bool:
    """Whether an ``Authorization`` header presents one of the ``accepted`` bearer tokens."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    presented = token.strip().encode("utf-8")
    # Every accepted token is compared, so the time taken does not tell which one matched.
    matches = [hmac.compare_digest(presented, expected) for expected in accepted]
    return any(matches)
