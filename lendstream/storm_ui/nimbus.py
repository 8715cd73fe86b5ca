"""Talking to nimbus: find the leader among the seeds and open a Thrift client on it.

The Thrift IDL is the one streamparse ships (:mod:`streamparse.thrift`, Storm's ``storm.thrift``
loaded by thriftpy2). The client is built here rather than with
``streamparse.util.get_nimbus_client`` so that connecting is bounded by the timeout too (that
helper only bounds reads, and importing it pulls in fabric).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from streamparse.thrift import Nimbus
from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.thrift import TApplicationException, TClient
from thriftpy2.transport import TFramedTransportFactory, TSocket, TTransportException

from lendstream.storm_ui.settings import NimbusAddress, UiSettings

# What a dead, unreachable or slow nimbus raises (socket.timeout is an OSError).
CONNECTION_ERRORS = (TTransportException, OSError, EOFError)


class NimbusUnavailableError(RuntimeError):
    """No nimbus seed answered; the message names every seed and why it failed."""


class NimbusSession:
    """An open Thrift connection to one nimbus, closed by :meth:`close`."""

    def __init__(self, address: NimbusAddress, timeout_ms: int) -> None:
        self.address = address
        self._socket = TSocket(
            address.host, address.port, connect_timeout=timeout_ms, socket_timeout=timeout_ms
        )
        self._transport = TFramedTransportFactory().get_transport(self._socket)
        self._transport.open()
        self.client: Any = TClient(Nimbus, TBinaryProtocolFactory().get_protocol(self._transport))

    def close(self) -> None:
        self._transport.close()


def _open_any(seeds: tuple[NimbusAddress, ...], timeout_ms: int) -> tuple[NimbusSession, list[str]]:
    failures: list[str] = []
    for seed in seeds:
        try:
            return NimbusSession(seed, timeout_ms), failures
        except CONNECTION_ERRORS as error:
            failures.append(f"{seed}: {error or type(error).__name__}")
    raise NimbusUnavailableError("no nimbus seed is reachable (" + "; ".join(failures) + ")")


def _leader_address(session: NimbusSession) -> NimbusAddress | None:
    """The leader's address; ``None`` while no leader is elected (nimbus raises then)."""
    try:
        leader = session.client.getLeader()
    except TApplicationException:
        return None
    return NimbusAddress(host=leader.host, port=int(leader.port))


@contextmanager
def leader_session(settings: UiSettings) -> Iterator[NimbusSession]:
    """A session on the leading nimbus, or on the first reachable seed if the leader is not."""
    session, failures = _open_any(settings.nimbus_seeds, settings.thrift_timeout_ms)
    try:
        leader_address = _leader_address(session)
        if leader_address is not None and leader_address != session.address:
            try:
                leader_session_ = NimbusSession(leader_address, settings.thrift_timeout_ms)
            except CONNECTION_ERRORS:
                pass  # the seed answers the read calls as well, if less fresh
            else:
                session.close()
                session = leader_session_
    except CONNECTION_ERRORS as error:
        session.close()
        failures.append(f"{session.address}: {error or type(error).__name__}")
        raise NimbusUnavailableError(
            "nimbus stopped answering (" + "; ".join(failures) + ")"
        ) from error
    except Exception:
        session.close()
        raise
    with closing(session):
        try:
            yield session
        except CONNECTION_ERRORS as error:
            raise NimbusUnavailableError(
                f"nimbus {session.address} stopped answering: {error or type(error).__name__}"
            ) from error
