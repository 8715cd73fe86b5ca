"""The UI's ``/metrics`` against a fake nimbus: a real Thrift server (thriftpy2, Storm's IDL from
streamparse) whose handler answers as told, fails, or never answers. Every case answers 200: a
nimbus that does not answer shows as ``lendstream_storm_nimbus_up 0``, which the alert rules see
(a 500 would only be an anonymous scrape failure)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from local_processes import free_port, thrift_server
from prometheus_client.parser import text_string_to_metric_families
from streamparse import thrift as storm
from thrift_structs import nimbus, supervisor, topology_summary
from thriftpy2.transport import TFramedTransportFactory

from lendstream.storm.nimbus import NimbusAddress
from lendstream.storm_ui.app import create_app
from lendstream.storm_ui.settings import UiSettings

NAMES = (
    "lendstream_storm_nimbus_up",
    "lendstream_storm_nimbus_leader_registered",
    "lendstream_storm_supervisors",
    "lendstream_storm_topology_active",
)


class FakeNimbus:
    """Leads (names itself) and answers getClusterInfo with ``cluster``, or raises ``failure``."""

    def __init__(self, port: int, cluster: Any = None, failure: Exception | None = None) -> None:
        self.port = port
        self.cluster = cluster
        self.failure = failure
        self.calls = 0

    def getLeader(self) -> Any:  # noqa: N802 - Thrift's method name
        return nimbus("127.0.0.1", self.port, leader=True)

    def getClusterInfo(self) -> Any:  # noqa: N802 - Thrift's method name
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return self.cluster


def _topology(name: str, status: str) -> Any:
    summary = topology_summary(f"{name}-1-1700000000", name, executors=4, tasks=4)
    summary.status = status
    return summary


def _cluster(supervisors: int, topologies: list[Any], nimbuses: list[Any] | None = None) -> Any:
    return storm.ClusterSummary(
        supervisors=[supervisor(f"w{n}", 2, 0, f"sup-{n}") for n in range(supervisors)],
        topologies=topologies,
        nimbuses=nimbuses or [],
    )


@pytest.fixture
def served() -> Iterator[Any]:
    """Start a fake nimbus; returns its handler (its port is where it serves)."""
    with ExitStack() as servers:

        def start(cluster: Any = None, failure: Exception | None = None) -> FakeNimbus:
            port = free_port()
            handler = FakeNimbus(port, cluster, failure)
            servers.enter_context(
                thrift_server(storm.Nimbus, handler, TFramedTransportFactory(), port)
            )
            return handler

        yield start


def _scrape(*ports: int, metrics_timeout_ms: int = 2000) -> dict[str, dict[tuple[Any, ...], float]]:
    """GET /metrics with these nimbus seeds: each of our metrics' samples by their labels."""
    seeds = tuple(NimbusAddress("127.0.0.1", port) for port in ports)
    settings = UiSettings(
        nimbus_seeds=seeds, thrift_timeout_ms=5000, metrics_timeout_ms=metrics_timeout_ms
    )
    response = create_app(settings).test_client().get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    samples: dict[str, dict[tuple[Any, ...], float]] = {name: {} for name in NAMES}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_nimbus_s_view_supervisors_and_each_topology_s_status(served: Any) -> None:
    topologies = [
        _topology("lendstream", "ACTIVE"),
        _topology("paused", "INACTIVE"),
        _topology("moving", "REBALANCING"),
    ]
    registry = [nimbus("m1", 6627, leader=False), nimbus("m2", 6627, leader=True)]
    fake = served(cluster=_cluster(3, topologies, registry))
    dead = free_port()  # a seed that refuses first: the live one is still found
    samples = _scrape(dead, fake.port)
    assert samples["lendstream_storm_nimbus_up"] == {(): 1.0}
    assert samples["lendstream_storm_nimbus_leader_registered"] == {(): 1.0}
    assert samples["lendstream_storm_supervisors"] == {(): 3.0}
    assert samples["lendstream_storm_topology_active"] == {
        (("topology", "lendstream"),): 1.0,
        (("topology", "moving"),): 0.0,
        (("topology", "paused"),): 0.0,
    }
    assert fake.calls == 1


def test_an_empty_cluster_has_no_topology_series(served: Any) -> None:
    fake = served(cluster=_cluster(0, []))
    samples = _scrape(fake.port)
    assert samples["lendstream_storm_nimbus_up"] == {(): 1.0}
    assert samples["lendstream_storm_supervisors"] == {(): 0.0}
    assert samples["lendstream_storm_topology_active"] == {}


def test_a_leader_missing_from_the_registry_is_leader_registered_0(served: Any) -> None:
    """The nimbuses answer, but none the registry lists leads (the leader lost its entry, or
    none is elected): getLeader cannot name a leader to the supervisors."""
    registry = [nimbus("m2", 6627, leader=False), nimbus("m3", 6627, leader=False)]
    fake = served(cluster=_cluster(2, [], registry))
    samples = _scrape(fake.port)
    assert samples["lendstream_storm_nimbus_up"] == {(): 1.0}
    assert samples["lendstream_storm_nimbus_leader_registered"] == {(): 0.0}
    assert samples["lendstream_storm_supervisors"] == {(): 2.0}


def test_no_nimbus_listening_is_nimbus_up_0_and_nothing_else() -> None:
    samples = _scrape(free_port(), free_port())
    assert samples == {
        "lendstream_storm_nimbus_up": {(): 0.0},
        "lendstream_storm_nimbus_leader_registered": {},
        "lendstream_storm_supervisors": {},
        "lendstream_storm_topology_active": {},
    }


def test_nimbus_failing_the_call_is_nimbus_up_0(served: Any) -> None:
    fake = served(failure=RuntimeError("nimbus broke"))
    samples = _scrape(fake.port)
    assert fake.calls == 1
    assert samples["lendstream_storm_nimbus_up"] == {(): 0.0}
    assert samples["lendstream_storm_nimbus_leader_registered"] == {}
    assert samples["lendstream_storm_supervisors"] == {}
    assert samples["lendstream_storm_topology_active"] == {}


def test_a_nimbus_that_never_answers_is_bounded_by_the_metrics_timeout() -> None:
    """The port accepts connections (the kernel's backlog) but nothing ever reads or answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        samples = _scrape(port, metrics_timeout_ms=300)
        elapsed = time.monotonic() - started
    assert samples["lendstream_storm_nimbus_up"] == {(): 0.0}
    assert elapsed < 3.0, elapsed
