"""lendstream.storm.registry, the nimbus registry check: a nimbus missing from /nimbuses twice is
restarted, one listed, starting or not answering is left alone. The registry is read from a real
Thrift server (thriftpy2, Storm's IDL from streamparse) answering getClusterInfo as configured;
the unit's uptime and its restart are injected."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from local_processes import free_port, thrift_server
from streamparse.thrift import ClusterSummary, Nimbus, NimbusSummary
from thriftpy2.thrift import TApplicationException
from thriftpy2.transport import TFramedTransportFactory

from lendstream.storm.nimbus import NimbusAddress
from lendstream.storm.registry import (
    RegistryCheck,
    Verdict,
    daemon_process,
    interrupt,
    is_listed,
    registered_nimbuses,
)

TIMEOUT_MS = 2_000


def summary(host: str, port: int = 6627, leader: bool = False) -> Any:
    return NimbusSummary(host=host, port=port, uptime_secs=60, isLeader=leader, version="2.8.3")


class RegistryHandler:
    """Answers getClusterInfo with the registries it is given, one per call (the last repeats)."""

    def __init__(self, registries: list[list[Any]]) -> None:
        self.registries = registries
        self.calls = 0

    def getClusterInfo(self) -> Any:  # noqa: N802 - Thrift's method name
        registry = self.registries[min(self.calls, len(self.registries) - 1)]
        self.calls += 1
        return ClusterSummary(supervisors=[], topologies=[], nimbuses=registry)


@pytest.fixture
def nimbus_serving() -> Iterator[Any]:
    """Start a nimbus on a loopback port answering with a handler; yields its address."""
    with ExitStack() as servers:

        def start(handler: Any) -> NimbusAddress:
            served = thrift_server(Nimbus, handler, TFramedTransportFactory())
            return NimbusAddress("127.0.0.1", servers.enter_context(served))

        yield start


class Recorder:
    def __init__(self) -> None:
        self.restarts = 0
        self.slept: list[float] = []

    def restart(self) -> None:
        self.restarts += 1

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def check_of(address: NimbusAddress, uptime: float | None, recorder: Recorder) -> RegistryCheck:
    return RegistryCheck(
        address=address,
        read_registry=lambda: registered_nimbuses(address, TIMEOUT_MS),
        uptime_s=lambda: uptime,
        restart=recorder.restart,
        grace_s=120,
        recheck_s=10,
        sleep=recorder.sleep,
    )


def test_a_nimbus_is_found_by_the_name_it_registers_under() -> None:
    me = NimbusAddress("m1", 6627)
    assert is_listed(me, [NimbusAddress("m2", 6627), NimbusAddress("m1.lendstream.internal", 6627)])
    assert not is_listed(me, [NimbusAddress("m2", 6627), NimbusAddress("m3", 6627)])
    assert not is_listed(me, [])


def test_a_listed_nimbus_is_left_alone(nimbus_serving: Any) -> None:
    handler = RegistryHandler([])
    recorder = Recorder()
    address = nimbus_serving(handler)
    handler.registries = [[summary("127.0.0.1", address.port, leader=True), summary("m2")]]
    result = check_of(address, 600, recorder).run()
    assert result.verdict is Verdict.REGISTERED
    assert recorder.restarts == 0
    assert recorder.slept == []


def test_a_nimbus_missing_twice_is_restarted(nimbus_serving: Any) -> None:
    handler = RegistryHandler([[summary("m2"), summary("m3")]])
    recorder = Recorder()
    address = nimbus_serving(handler)
    result = check_of(address, 600, recorder).run()
    assert result.verdict is Verdict.RESTARTED, result.detail
    assert recorder.restarts == 1
    assert recorder.slept == [10]
    assert handler.calls == 2
    assert "m2:6627, m3:6627" in result.detail


def test_a_nimbus_back_after_its_reconnect_is_not_restarted(nimbus_serving: Any) -> None:
    handler = RegistryHandler([])
    recorder = Recorder()
    address = nimbus_serving(handler)
    handler.registries = [[summary("m2")], [summary("m2"), summary("127.0.0.1", address.port)]]
    result = check_of(address, 600, recorder).run()
    assert result.verdict is Verdict.REGISTERED
    assert recorder.restarts == 0
    assert handler.calls == 2


@pytest.mark.parametrize("uptime", [None, 30.0])
def test_a_starting_or_stopped_nimbus_is_not_checked(
    nimbus_serving: Any, uptime: float | None
) -> None:
    handler = RegistryHandler([[]])
    recorder = Recorder()
    result = check_of(nimbus_serving(handler), uptime, recorder).run()
    assert result.verdict is Verdict.STARTING
    assert handler.calls == 0
    assert recorder.restarts == 0


def test_a_nimbus_that_does_not_answer_is_left_to_systemd() -> None:
    recorder = Recorder()
    result = check_of(NimbusAddress("127.0.0.1", free_port()), 600, recorder).run()
    assert result.verdict is Verdict.UNANSWERED
    assert "did not answer" in result.detail
    assert recorder.restarts == 0


def test_a_nimbus_that_fails_the_call_is_left_to_systemd(nimbus_serving: Any) -> None:
    class Failing:
        def getClusterInfo(self) -> Any:  # noqa: N802 - Thrift's method name
            raise TApplicationException(TApplicationException.INTERNAL_ERROR, "no ZooKeeper")

    recorder = Recorder()
    result = check_of(nimbus_serving(Failing()), 600, recorder).run()
    assert result.verdict is Verdict.UNANSWERED
    assert recorder.restarts == 0


SLEEPER_TAKING_SIGINT = (
    "import signal, time; signal.signal(signal.SIGINT, signal.default_int_handler); time.sleep(60)"
)


def test_the_daemon_is_found_by_its_launcher_marker_and_interrupted() -> None:
    """A real process of this user whose command line carries the launcher's marker (the storm
    role's -Ddaemon.name=nimbus): found with its age, and SIGINT ends it."""
    daemon = "nimbus-under-test"
    assert daemon_process(daemon) is None
    # The stand-in takes SIGINT as a daemon under systemd does (default handling) even when this
    # runner inherited it ignored, as a background job of a shell without job control does: a
    # process that starts with SIGINT ignored keeps ignoring it (Python and the JVM alike).
    sleeper = subprocess.Popen(
        [sys.executable, "-c", SLEEPER_TAKING_SIGINT, f"-Ddaemon.name={daemon}"]
    )
    try:
        time.sleep(1.2)
        found = daemon_process(daemon)
        assert found is not None
        assert found.pid == sleeper.pid
        assert 1.0 <= found.uptime_s < 30, found
        interrupt(found.pid)
        assert sleeper.wait(timeout=10) != 0  # KeyboardInterrupt: a failure to a supervisor
    finally:
        sleeper.kill()
        sleeper.wait()
    assert daemon_process(daemon) is None
