"""The `zookeeper_digest_id` filter: a ZooKeeper digest-scheme identity from its credentials."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any


def zookeeper_digest_id(user: str, password: str) -> str:
    """``user:base64(sha1(user:password))``, the id ZooKeeper's DigestAuthenticationProvider
    gives a client that authenticated as ``user:password`` (what an ACL and Storm's
    storm.zookeeper.superACL name after ``digest:``)."""
    credentials = f"{user}:{password}".encode()
    return f"{user}:{base64.b64encode(hashlib.sha1(credentials).digest()).decode()}"


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"zookeeper_digest_id": zookeeper_digest_id}
