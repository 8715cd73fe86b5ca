"""The one Thrift client of nimbus: open a session on a nimbus, or on the leader among seeds.

The Thrift IDL is the one streamparse ships (:mod:`streamparse.thrift`, Storm's ``storm.thrift``
loaded by thriftpy2). The client is built here rather than with
``streamparse.util.get_nimbus_client`` so that connecting is bounded by the timeout too (that
helper only bounds reads, and importing it pulls in fabric), and every session is closed.

The leader is asked with ``getLeader``; it names itself by host name, which is matched to the
seed it is known by (a seed's name, its host, or their first labels): the controller reaches
the nimbus hosts by address, while only the cluster's nodes resolve their names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from streamparse.thrift import Nimbus
from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.thrift import TApplicationException, TClient
from thriftpy2.transport import TFramedTransportFactory, TSocket, TTransportException

# What a dead, unreachable or slow nimbus raises (socket.timeout is an OSError).
CONNECTION_ERRORS = (TTransportException, OSError, EOFError)
DEFAULT_TIMEOUT_MS = 20_000


class NimbusUnavailableError(RuntimeError):
    """No nimbus answered (or none leads); the message names every seed and why."""


@dataclass(frozen=True, slots=True)
class NimbusAddress:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> NimbusAddress:
        """``"host:port"`` → address; ValueError names what is wrong."""
        host, separator, port = text.strip().rpartition(":")
        if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"a nimbus must be host:port, got {text.strip()!r}")
        return cls(host=host, port=int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


Seeds = Mapping[str, NimbusAddress]  # the name a nimbus is known by → where to reach it


class NimbusSession:
    """An open Thrift connection to one nimbus (``client``), closed by :meth:`close` or on
    leaving a ``with`` block. Connecting and every call are bounded by ``timeout_ms``."""

    def __init__(self, address: NimbusAddress | str, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        if not isinstance(address, NimbusAddress):
            address = NimbusAddress.parse(address)
        self.address = address
        self._socket = TSocket(
            self.address.host,
            self.address.port,
            connect_timeout=timeout_ms,
            socket_timeout=timeout_ms,
        )
        self._transport = TFramedTransportFactory().get_transport(self._socket)
        self._transport.open()
        self.client: Any = TClient(Nimbus, TBinaryProtocolFactory().get_protocol(self._transport))

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> NimbusSession:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def as_seeds(addresses: Sequence[NimbusAddress]) -> dict[str, NimbusAddress]:
    """Seeds known by their own ``host:port`` (where the leader's name resolves, as on a node)."""
    return {str(address): address for address in addresses}


def _open_any(seeds: Seeds, timeout_ms: int, failures: list[str]) -> NimbusSession:
    for address in seeds.values():
        try:
            return NimbusSession(address, timeout_ms)
        except CONNECTION_ERRORS as error:
            failures.append(f"{address}: {error or type(error).__name__}")
    raise NimbusUnavailableError("no nimbus seed is reachable (" + "; ".join(failures) + ")")


def _reported_leader(session: NimbusSession) -> NimbusAddress | None:
    """Where the nimbus of ``session`` says the leader is; None while none is elected."""
    try:
        leader = session.client.getLeader()
    except TApplicationException:
        return None
    return NimbusAddress(leader.host, int(leader.port))


def seed_of(leader: NimbusAddress, seeds: Seeds) -> NimbusAddress | None:
    """The seed the leader (as it names itself) is, or None."""
    if leader in seeds.values():
        return leader
    label = leader.host.split(".")[0]
    for name, address in seeds.items():
        if leader.host in {name, address.host} or label in {name, address.host.split(".")[0]}:
            return address
    return None


def find_leader(seeds: Seeds, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> NimbusAddress:
    """The leading nimbus among ``seeds`` (only it accepts a submission), asking each seed in
    turn until one names a leader that is among them."""
    failures: list[str] = []
    for name, address in seeds.items():
        try:
            with NimbusSession(address, timeout_ms) as session:
                leader = _reported_leader(session)
        except CONNECTION_ERRORS as error:
            failures.append(f"{name} ({address}): {error or type(error).__name__}")
            continue
        found = seed_of(leader, seeds) if leader is not None else None
        if found is not None:
            return found
        failures.append(f"{name} ({address}): leader {leader or 'none'} is not among the seeds")
    raise NimbusUnavailableError(f"no leading nimbus among {list(seeds)}: {'; '.join(failures)}")


@contextmanager
def leader_session(seeds: Seeds, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Iterator[NimbusSession]:
    """A session on the leading nimbus, or on the first reachable seed if the leader is not
    reachable (a seed answers the read calls as well, if less fresh). Connection errors inside
    the block are raised as NimbusUnavailableError."""
    failures: list[str] = []
    session = _open_any(seeds, timeout_ms, failures)
    try:
        leader = _reported_leader(session)
        if leader is not None:
            leader = seed_of(leader, seeds) or leader
        if leader is not None and leader != session.address:
            try:
                on_leader = NimbusSession(leader, timeout_ms)
            except CONNECTION_ERRORS:
                pass
            else:
                session.close()
                session = on_leader
    except CONNECTION_ERRORS as error:
        session.close()
        failures.append(f"{session.address}: {error or type(error).__name__}")
        raise NimbusUnavailableError(
            "nimbus stopped answering (" + "; ".join(failures) + ")"
        ) from error
    except BaseException:
        session.close()
        raise
    with session:
        try:
            yield session
        except CONNECTION_ERRORS as error:
            raise NimbusUnavailableError(
                f"nimbus {session.address} stopped answering: {error or type(error).__name__}"
            ) from error
