"""`down` leaves nothing behind and is idempotent; `up` after it gives fresh nodes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lendstream.cluster import Layout
from lendstream.vcluster import cgroups, lifecycle, network, nodes
from lendstream.vcluster.paths import layout_state_dir

pytestmark = pytest.mark.vcluster


def test_down_leaves_nothing_then_up_boots_fresh_nodes(vcluster: Layout) -> None:
    machine_id = {
        n.name: (nodes.upper_dir(vcluster, n) / "etc/machine-id").read_text()
        for n in vcluster.nodes
    }
    lifecycle.down(vcluster)
    assert lifecycle.leftovers_of(vcluster) == []
    assert not network.link_exists(network.bridge_name(vcluster))
    for node in vcluster.nodes:
        assert not network.link_exists(nodes.veth_name(vcluster, node))
        for directory in cgroups.node_cgroup_dirs(nodes.cgroup_group(vcluster), node.name):
            assert not directory.exists()
    assert not layout_state_dir(vcluster.name).exists()
    assert not Path(f"/run/systemd/nspawn/propagate/{vcluster.name}-m1").exists()
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert f"--machine={vcluster.name}-" not in processes.stdout
    assert str(layout_state_dir(vcluster.name)) not in processes.stdout

    lifecycle.down(vcluster)  # idempotent: nothing to do, no error
    lifecycle.up(vcluster)
    states = {entry.node.name: entry.state for entry in lifecycle.status(vcluster)}
    assert states == {node.name: "running" for node in vcluster.nodes}
    for node in vcluster.nodes:
        fresh = (nodes.upper_dir(vcluster, node) / "etc/machine-id").read_text()
        assert fresh != machine_id[node.name]
