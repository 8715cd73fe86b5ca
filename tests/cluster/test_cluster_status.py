"""`lendstream status` on the package's deployed layout (conftest.py): it says HEALTHY, exits 0
and lists every node of the inventory in its per-node table.

It runs after the deploy tests and before the fault suite (tests/cluster runs its modules in
file order, and it asks for site.yml's first run itself, so it also holds alone). The deploy
tests just before end with rolling restarts and a change rolled out and back under load: the
command is run again, at most STATUS_ATTEMPTS times, until it says HEALTHY; once deployed and
idle, the first run does (about 15-20 s on montana).
"""

from __future__ import annotations

import subprocess
import time

import pytest
from deployment import BIN_DIR, REPOSITORY_ROOT, Cluster, site_first_run

from lendstream.vcluster.paths import inventory_path

pytestmark = [pytest.mark.vcluster, pytest.mark.slow, pytest.mark.timeout(600)]

STATUS_ATTEMPTS = 4
STATUS_PAUSE_S = 30
STATUS_TIMEOUT_S = 150  # each run: every call in it is bounded by seconds


def status(cluster: Cluster) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN_DIR / "lendstream"), "status"]
    argv += ["--inventory", str(inventory_path(cluster.layout.name))]
    return subprocess.run(
        argv,
        cwd=REPOSITORY_ROOT,
        env=cluster.environment,
        capture_output=True,
        text=True,
        timeout=STATUS_TIMEOUT_S,
        check=False,
    )


def nodes_listed(output: str) -> set[str]:
    """The nodes of the first block (``nodes``: each node's lendstream units; nodes with the same
    units share a row, ``w1,w2``)."""
    block = output.split("\nzookeeper\n", 1)[0].splitlines()[1:]
    return {node for line in block if line.strip() for node in line[3:].split()[0].split(",")}


def test_status_says_healthy_and_lists_every_node(cluster: Cluster) -> None:
    site_first_run(cluster)
    for _attempt in range(STATUS_ATTEMPTS):
        result = status(cluster)
        if result.returncode == 0:
            break
        time.sleep(STATUS_PAUSE_S)
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert output.splitlines()[-1] == "HEALTHY", output
    assert nodes_listed(output) == {node.name for node in cluster.layout.nodes}, output
