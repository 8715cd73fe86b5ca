"""The Storm UI under gunicorn against the local stack's real nimbus and supervisor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from storm_ui_server import REQUEST_TIMEOUT_S, get_json, scrape_metrics, storm_ui

from lendstream.stack.runtime import StackEndpoints
from lendstream.storm.nimbus import NimbusSession

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def nimbus(stack_storm: StackEndpoints) -> Iterator[Any]:
    """A Thrift client of its own (a session apart from the UI's) to check the UI's answers."""
    address = f"{stack_storm.storm_nimbus_host}:{stack_storm.storm_nimbus_port}"
    with NimbusSession(address) as session:
        yield session.client


@pytest.fixture(scope="module")
def ui_url(stack_storm: StackEndpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with storm_ui(stack_storm, tmp_path_factory.mktemp("storm-ui") / "storm-ui.log") as url:
        yield url


def test_cluster_summary_shows_the_supervisor_and_nimbuss_version(ui_url: str, nimbus: Any) -> None:
    summary = get_json(f"{ui_url}/api/v1/cluster/summary")
    assert summary["supervisors"] >= 1
    assert summary["stormVersion"] == nimbus.getLeader().version
    assert summary["slotsTotal"] >= 1
    assert summary["slotsFree"] == summary["slotsTotal"] - summary["slotsUsed"]


def test_supervisor_summary_matches_nimbus(ui_url: str, nimbus: Any) -> None:
    supervisors = get_json(f"{ui_url}/api/v1/supervisor/summary")["supervisors"]
    expected = {s.supervisor_id: s for s in nimbus.getClusterInfo().supervisors}
    assert {s["id"] for s in supervisors} == set(expected)
    for supervisor in supervisors:
        assert supervisor["host"] == expected[supervisor["id"]].host
        assert supervisor["slotsTotal"] == expected[supervisor["id"]].num_workers


def test_nimbus_summary_names_the_leader_and_the_dead_seed(ui_url: str, nimbus: Any) -> None:
    nimbuses = get_json(f"{ui_url}/api/v1/nimbus/summary")["nimbuses"]
    leader = nimbus.getLeader()
    assert nimbuses[0]["status"] == "Leader"
    assert (nimbuses[0]["host"], nimbuses[0]["port"]) == (leader.host, leader.port)
    assert nimbuses[-1]["status"] == "Offline"  # the unused port given as the first seed


def test_every_running_topology_lists_its_spouts_and_bolts(ui_url: str, nimbus: Any) -> None:
    """Holds for however many topologies run (often none here: tests/e2e checks the UI against
    a topology that runs and has processed applicants)."""
    summary = get_json(f"{ui_url}/api/v1/topology/summary")["topologies"]
    assert {t["id"] for t in summary} == {t.id for t in nimbus.getClusterInfo().topologies}
    for topology in summary:
        document = get_json(f"{ui_url}/api/v1/topology/{topology['id']}")
        user_topology = nimbus.getUserTopology(topology["id"])
        assert {s["spoutId"] for s in document["spouts"]} == set(user_topology.spouts)
        assert {b["boltId"] for b in document["bolts"]} == set(user_topology.bolts)


def test_metrics_show_nimbus_s_supervisors_and_topologies(ui_url: str, nimbus: Any) -> None:
    """The dead first seed is refused and the live nimbus answers: nimbus up, its supervisors
    (the stack runs one), and each topology it lists (none running is fine here: tests/e2e
    scrapes a running one)."""
    samples = scrape_metrics(ui_url)
    cluster = nimbus.getClusterInfo()
    assert samples["lendstream_storm_nimbus_up"] == {(): 1.0}
    assert samples["lendstream_storm_nimbus_leader_registered"] == {(): 1.0}
    assert samples["lendstream_storm_supervisors"] == {(): float(len(cluster.supervisors))}
    assert len(cluster.supervisors) >= 1
    expected = {
        (("topology", t.name),): 1.0 if t.status == "ACTIVE" else 0.0 for t in cluster.topologies
    }
    assert samples.get("lendstream_storm_topology_active", {}) == expected


def test_unknown_topology_is_a_404(ui_url: str) -> None:
    response = requests.get(f"{ui_url}/api/v1/topology/no-such-topology-1-1", timeout=30)
    assert response.status_code == 404
    assert "no-such-topology-1-1" in response.json()["errorMessage"]


def test_overview_page_renders_cluster_nimbus_and_supervisors(ui_url: str, nimbus: Any) -> None:
    response = requests.get(f"{ui_url}/", timeout=REQUEST_TIMEOUT_S)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    cluster = nimbus.getClusterInfo()
    assert "<h2>Cluster summary</h2>" in page
    assert f"Storm {nimbus.getLeader().version}" in page
    for supervisor in cluster.supervisors:
        assert supervisor.supervisor_id in page
    for topology in cluster.topologies:
        assert topology.name in page
