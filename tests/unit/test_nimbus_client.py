"""lendstream.storm.nimbus, the one nimbus client: the leader found among the seeds, sessions
bounded and closed, every seed named when none answers. The nimbus here is a real Thrift server
(thriftpy2, Storm's IDL from streamparse) whose handler answers getLeader as configured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from local_processes import free_port, thrift_server
from streamparse.thrift import Nimbus, NimbusSummary
from thriftpy2.transport import TFramedTransportFactory

from lendstream.storm.nimbus import (
    NimbusAddress,
    NimbusUnavailableError,
    find_leader,
    leader_session,
    seed_of,
)

TIMEOUT_MS = 2_000


class LeaderNamingHandler:
    """Answers getLeader with the nimbus it was told leads."""

    def __init__(self, leader_host: str, leader_port: int) -> None:
        self.leader = NimbusSummary(
            host=leader_host, port=leader_port, uptime_secs=1, isLeader=True, version="2.8.3"
        )

    def getLeader(self) -> Any:  # noqa: N802 - Thrift's method name
        return self.leader


@pytest.fixture
def nimbus_naming() -> Iterator[Any]:
    """Start nimbus servers on loopback ports; each names the leader it is given."""
    with ExitStack() as servers:

        def start(leader_host: str, leader_port: int, port: int | None = None) -> NimbusAddress:
            handler = LeaderNamingHandler(leader_host, leader_port)
            served = thrift_server(Nimbus, handler, TFramedTransportFactory(), port)
            return NimbusAddress("127.0.0.1", servers.enter_context(served))

        yield start


def test_an_address_is_host_and_port() -> None:
    assert NimbusAddress.parse(" m1.lendstream.internal:6627 ") == NimbusAddress(
        "m1.lendstream.internal", 6627
    )
    for text in ("m1", "m1:", ":6627", "m1:0", "m1:70000"):
        with pytest.raises(ValueError, match="host:port"):
            NimbusAddress.parse(text)


def test_the_leader_is_matched_to_the_seed_it_is_known_by() -> None:
    seeds = {
        "m1": NimbusAddress("192.168.61.11", 6627),
        "m2": NimbusAddress("192.168.61.12", 6627),
    }
    assert seed_of(NimbusAddress("m2", 6627), seeds) == seeds["m2"]
    assert seed_of(NimbusAddress("m2.lendstream.internal", 6627), seeds) == seeds["m2"]
    assert seed_of(NimbusAddress("192.168.61.11", 6627), seeds) == seeds["m1"]
    assert seed_of(NimbusAddress("m9", 6627), seeds) is None


def test_find_leader_asks_the_seeds_until_one_names_a_leader_among_them(nimbus_naming: Any) -> None:
    leader = nimbus_naming("m2", 6627)  # m2 serves here under a loopback address
    dead = NimbusAddress("127.0.0.1", free_port())
    seeds = {"m1": dead, "m2": leader}
    assert find_leader(seeds, TIMEOUT_MS) == leader


def test_find_leader_names_every_seed_when_none_leads(nimbus_naming: Any) -> None:
    stranger = nimbus_naming("m9", 6627)  # names a leader that is not a seed
    dead = NimbusAddress("127.0.0.1", free_port())
    with pytest.raises(NimbusUnavailableError, match="no leading nimbus") as error:
        find_leader({"m1": dead, "m2": stranger}, TIMEOUT_MS)
    assert "m1 (127.0.0.1:" in str(error.value)
    assert "leader m9:6627 is not among the seeds" in str(error.value)


def test_leader_session_moves_to_the_leader(nimbus_naming: Any) -> None:
    leader_port = free_port()
    leader = nimbus_naming("127.0.0.1", leader_port, port=leader_port)
    follower = nimbus_naming("127.0.0.1", leader_port)
    with leader_session({str(follower): follower, str(leader): leader}, TIMEOUT_MS) as session:
        assert session.address == leader
        assert session.client.getLeader().port == leader_port


def test_leader_session_stays_on_a_seed_when_the_leader_is_unreachable(nimbus_naming: Any) -> None:
    dead_port = free_port()
    follower = nimbus_naming("127.0.0.1", dead_port)
    with leader_session({str(follower): follower}, TIMEOUT_MS) as session:
        assert session.address == follower  # it answers the read calls as well
        assert session.client.getLeader().port == dead_port


def test_leader_session_without_any_seed_answering_names_them() -> None:
    dead = [NimbusAddress("127.0.0.1", free_port()) for _ in range(2)]
    with (
        pytest.raises(NimbusUnavailableError, match="no nimbus seed is reachable") as error,
        leader_session({str(a): a for a in dead}, TIMEOUT_MS),
    ):
        pass
    assert all(str(address) in str(error.value) for address in dead)
