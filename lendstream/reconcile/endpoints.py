"""Which of the endpoints given (Kafka brokers, HBase Thrift servers, risk services) answer.

Each is probed with a short TCP connect before the reconcile uses it, so a node that is down (or
cut off) is skipped and reported instead of hanging or failing the check; only when no endpoint
of a kind answers can the check not be made.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from lendstream.reconcile.errors import CannotReconcileError

PROBE_TIMEOUT_S = 3.0  # a TCP connect to a live endpoint on the cluster network takes milliseconds


def connect_error(host: str, port: int, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Why no TCP connection to ``host:port`` opens within ``timeout_s`` (None: one does)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as error:
        return str(error) or type(error).__name__


def broker_address(broker: str) -> tuple[str, int]:
    """``"host:port"`` → (host, port)."""
    host, separator, port = broker.rpartition(":")
    if not separator or not host or not port.isdigit():
        raise ValueError(f"not host:port: {broker!r}")
    return host, int(port)


def url_address(url: str) -> tuple[str, int]:
    """``"http://host:port/…"`` → (host, port); the scheme's port when the URL names none."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class Probed:
    """The endpoints of one kind that answered a TCP connect, and why the others did not."""

    kind: str  # e.g. "Kafka broker"
    live: tuple[str, ...]
    dead: dict[str, str]  # endpoint → why it did not answer


def probe(
    kind: str,
    endpoints: Sequence[str],
    address: Callable[[str], tuple[str, int]],
    timeout_s: float = PROBE_TIMEOUT_S,
) -> Probed:
    """Connect to every endpoint at once (bounded by ``timeout_s``); raise CannotReconcileError when
    none answers, naming each and why."""
    if not endpoints:
        raise CannotReconcileError(f"no {kind} given")
    with ThreadPoolExecutor(max_workers=len(endpoints)) as pool:
        errors = list(pool.map(lambda e: connect_error(*address(e), timeout_s), endpoints))
    probed = Probed(
        kind,
        tuple(e for e, error in zip(endpoints, errors, strict=True) if error is None),
        {e: error for e, error in zip(endpoints, errors, strict=True) if error is not None},
    )
    if not probed.live:
        why = "; ".join(f"{e}: {error}" for e, error in probed.dead.items())
        raise CannotReconcileError(f"no {kind} answers ({why})")
    return probed
