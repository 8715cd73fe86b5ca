"""The Storm UI under gunicorn against the local stack's real nimbus and supervisor."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from local_processes import clean_environment, free_port, running

from lendstream.stack.runtime import StackEndpoints
from lendstream.storm.nimbus import NimbusSession

pytestmark = pytest.mark.stack

REPOSITORY = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def nimbus(stack_storm: StackEndpoints) -> Iterator[Any]:
    """A Thrift client of its own (a session apart from the UI's) to check the UI's answers."""
    address = f"{stack_storm.storm_nimbus_host}:{stack_storm.storm_nimbus_port}"
    with NimbusSession(address) as session:
        yield session.client


@pytest.fixture(scope="module")
def ui_url(stack_storm: StackEndpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m lendstream.storm_ui --bind`` on a free port; the first seed is a dead one,
    so finding the live nimbus among several seeds is exercised too."""
    port = free_port()
    seeds = (
        f"127.0.0.1:{free_port()},{stack_storm.storm_nimbus_host}:{stack_storm.storm_nimbus_port}"
    )
    env = clean_environment(
        {
            "LENDSTREAM_STORM_UI_NIMBUS_SEEDS": seeds,
            "LENDSTREAM_STORM_UI_THRIFT_TIMEOUT_MS": "20000",
        }
    )
    log_path = tmp_path_factory.mktemp("storm-ui") / "storm-ui.log"
    command = [sys.executable, "-m", "lendstream.storm_ui", "--bind", f"127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}"
    with running(command, log_path, env=env, cwd=REPOSITORY) as process:
        _wait_until_healthy(f"{url}/healthz", process, log_path)
        yield url


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the UI exited {process.returncode}: {log_path.read_text()}")
        try:
            response = requests.get(url, timeout=REQUEST_TIMEOUT_S)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text}"
        except (requests.ConnectionError, requests.Timeout) as error:
            last = str(error)
        time.sleep(0.3)
    raise AssertionError(
        f"{url} not healthy in {START_TIMEOUT_S:.0f} s ({last}): {log_path.read_text()}"
    )


def _get(url: str) -> Any:
    response = requests.get(url, timeout=REQUEST_TIMEOUT_S)
    assert response.status_code == 200, response.text
    return response.json()


def test_cluster_summary_shows_the_supervisor_and_nimbuss_version(ui_url: str, nimbus: Any) -> None:
    summary = _get(f"{ui_url}/api/v1/cluster/summary")
    assert summary["supervisors"] >= 1
    assert summary["stormVersion"] == nimbus.getLeader().version
    assert summary["slotsTotal"] >= 1
    assert summary["slotsFree"] == summary["slotsTotal"] - summary["slotsUsed"]


def test_supervisor_summary_matches_nimbus(ui_url: str, nimbus: Any) -> None:
    supervisors = _get(f"{ui_url}/api/v1/supervisor/summary")["supervisors"]
    expected = {s.supervisor_id: s for s in nimbus.getClusterInfo().supervisors}
    assert {s["id"] for s in supervisors} == set(expected)
    for supervisor in supervisors:
        assert supervisor["host"] == expected[supervisor["id"]].host
        assert supervisor["slotsTotal"] == expected[supervisor["id"]].num_workers


def test_nimbus_summary_names_the_leader_and_the_dead_seed(ui_url: str, nimbus: Any) -> None:
    nimbuses = _get(f"{ui_url}/api/v1/nimbus/summary")["nimbuses"]
    leader = nimbus.getLeader()
    assert nimbuses[0]["status"] == "Leader"
    assert (nimbuses[0]["host"], nimbuses[0]["port"]) == (leader.host, leader.port)
    assert nimbuses[-1]["status"] == "Offline"  # the unused port given as the first seed


def test_every_running_topology_lists_its_spouts_and_bolts(ui_url: str, nimbus: Any) -> None:
    """Holds for however many topologies run (none, or the pipeline's)."""
    summary = _get(f"{ui_url}/api/v1/topology/summary")["topologies"]
    assert {t["id"] for t in summary} == {t.id for t in nimbus.getClusterInfo().topologies}
    for topology in summary:
        document = _get(f"{ui_url}/api/v1/topology/{topology['id']}")
        user_topology = nimbus.getUserTopology(topology["id"])
        assert {s["spoutId"] for s in document["spouts"]} == set(user_topology.spouts)
        assert {b["boltId"] for b in document["bolts"]} == set(user_topology.bolts)


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
