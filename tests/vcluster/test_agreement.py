"""The montana inventory, the Vagrant machines and the simulated cluster come from cluster.yml,
and agree with it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lendstream.cluster import (
    REPO_ROOT,
    checked_in_inventory_path,
    checked_in_inventory_text,
    load_cluster,
)

RECORDER = Path(__file__).with_name("vagrant_recorder.rb")
LAYOUTS = sorted(load_cluster().layouts)


@pytest.mark.parametrize("layout_name", LAYOUTS)
def test_checked_in_inventory_is_what_cluster_yml_gives(layout_name: str) -> None:
    layout = load_cluster().layout(layout_name)
    path = checked_in_inventory_path(layout_name)
    assert path.read_text() == checked_in_inventory_text(layout), (
        f"{path} drifted from cluster.yml: run python -m lendstream.cluster write-inventories"
    )


def _ansible_groups(inventory_file: Path) -> dict[str, list[str]]:
    """Groups and members as Ansible itself reads the inventory."""
    ansible_inventory = Path(sys.executable).with_name("ansible-inventory")
    output = subprocess.run(
        [str(ansible_inventory), "-i", str(inventory_file), "--list"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    listing = json.loads(output)
    return {
        group: sorted(body.get("hosts", []))
        for group, body in listing.items()
        if group not in ("_meta", "all", "ungrouped")
    }


@pytest.mark.parametrize("layout_name", LAYOUTS)
def test_ansible_reads_the_layout_groups_from_the_checked_in_inventory(layout_name: str) -> None:
    layout = load_cluster().layout(layout_name)
    expected = {group: sorted(members) for group, members in layout.groups().items()}
    assert _ansible_groups(checked_in_inventory_path(layout_name)) == expected


def _record_vagrantfile(tmp_path: Path, layout_name: str, with_playbook: bool) -> dict[str, Any]:
    """What the Vagrantfile configures, from a copy of it beside cluster.yml."""
    copy = tmp_path / layout_name
    (copy / "ansible").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "Vagrantfile", copy)
    shutil.copy(REPO_ROOT / "cluster.yml", copy)
    shutil.copytree(REPO_ROOT / "vagrant", copy / "vagrant")
    if with_playbook:
        (copy / "ansible" / "site.yml").write_text("- hosts: all\n  tasks: []\n")
    output = subprocess.run(
        ["ruby", str(RECORDER), str(copy / "Vagrantfile")],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LENDSTREAM_LAYOUT": layout_name},
    ).stdout
    return json.loads(output)


@pytest.mark.vcluster
@pytest.mark.parametrize("layout_name", LAYOUTS)
def test_vagrant_machines_match_the_layout(tmp_path: Path, layout_name: str) -> None:
    layout = load_cluster().layout(layout_name)
    recorded = _record_vagrantfile(tmp_path, layout_name, with_playbook=True)
    assert recorded["box"] == "debian/bookworm64"
    machines = recorded["machines"]
    assert [m["name"] for m in machines] == [n.name for n in layout.nodes]
    for machine, node in zip(machines, layout.nodes, strict=True):
        assert machine["hostname"] == node.name
        assert machine["networks"] == [{"type": "private_network", "ip": str(node.address)}]
        for provider in ("virtualbox", "libvirt"):
            settings = machine["providers"][provider]
            assert (settings["memory"], settings["cpus"]) == (node.size.memory_mib, node.size.cpus)
    # Ansible runs once, from the last machine, over all of them, with the layout's groups.
    provisioners = [(m["name"], p) for m in machines for p in m["provisioners"]]
    assert len(provisioners) == 1
    machine_name, ansible = provisioners[0]
    assert machine_name == layout.nodes[-1].name
    assert ansible["type"] == "ansible"
    assert ansible["limit"] == "all"
    assert ansible["playbook"].endswith("/ansible/site.yml")
    assert ansible["groups"] == {g: list(m) for g, m in layout.groups().items()}


@pytest.mark.vcluster
def test_vagrantfile_without_a_playbook_has_no_provisioner(tmp_path: Path) -> None:
    recorded = _record_vagrantfile(tmp_path, "montana", with_playbook=False)
    assert all(not machine["provisioners"] for machine in recorded["machines"])


@pytest.mark.vcluster
def test_vagrant_montana_inventory_and_harness_list_the_same_nodes() -> None:
    """Vagrant's own machine list, the checked-in montana inventory and the simulated cluster's
    node list (from `python -m lendstream.vcluster status`) name the same nodes and addresses."""
    validate = subprocess.run(
        ["vagrant", "validate", "--machine-readable"],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        env={**os.environ, "LENDSTREAM_LAYOUT": "montana"},
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    vagrant_machines = [
        fields[1]
        for fields in (line.split(",") for line in validate.stdout.splitlines())
        if len(fields) > 3 and fields[2] == "metadata" and fields[3] == "provider"
    ]
    inventory = yaml.safe_load(checked_in_inventory_path("montana").read_text())
    inventory_hosts = {
        name: variables["ansible_host"] for name, variables in inventory["all"]["hosts"].items()
    }
    status = subprocess.run(
        [sys.executable, "-m", "lendstream.vcluster", "status", "--layout", "montana"],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    ).stdout
    harness_nodes = dict(re.findall(r"^\s+(\S+)\s+(\d+\.\d+\.\d+\.\d+)\s", status, re.MULTILINE))
    assert vagrant_machines == list(inventory_hosts) == list(harness_nodes)
    assert inventory_hosts == harness_nodes
    assert len(vagrant_machines) == 9
