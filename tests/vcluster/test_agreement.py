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
from lendstream.vagrant import box, host
from lendstream.vcluster import aptproxy

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


def _record_vagrantfile(
    tmp_path: Path, layout_name: str, with_playbook: bool, env: dict[str, str] | None = None
) -> dict[str, Any]:
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
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("LENDSTREAM_VAGRANT_")},
            "LENDSTREAM_LAYOUT": layout_name,
            "LENDSTREAM_VAGRANT_ACCEL": "tcg",
            **(env or {}),
        },
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
        assert machine["networks"] == [
            {
                "type": "private_network",
                "ip": str(node.address),
                "libvirt__network_name": f"lendstream-{layout_name}",
                "libvirt__forward_mode": "none",
                "libvirt__dhcp_enabled": False,
            }
        ]
        for provider in ("virtualbox", "libvirt"):
            settings = machine["providers"][provider]
            assert (settings["memory"], settings["cpus"]) == (node.size.memory_mib, node.size.cpus)
        libvirt = machine["providers"]["libvirt"]
        assert libvirt["driver"] == "qemu"  # LENDSTREAM_VAGRANT_ACCEL=tcg
        assert libvirt["management_network_mode"] == "none"
        assert libvirt["management_network_address"] == str(host.management_network(layout))
    # Ansible runs once, from the last machine, over all of them, with the layout's groups.
    # The public box: online, so no apt-through-the-host provisioner.
    provisioners = [(m["name"], p) for m in machines for p in m["provisioners"]]
    assert len(provisioners) == 1
    machine_name, ansible = provisioners[0]
    assert machine_name == layout.nodes[-1].name
    assert ansible["type"] == "ansible"
    assert ansible["limit"] == "all"
    assert ansible["playbook"].endswith("/ansible/site.yml")
    assert ansible["groups"] == {g: list(m) for g, m in layout.groups().items()}
    assert ansible["host_vars"] == {n.name: {"ansible_host": str(n.address)} for n in layout.nodes}
    assert "tags" not in ansible


@pytest.mark.vcluster
def test_vagrant_local_box_is_offline_and_relocatable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the local box and a moved network, the Vagrantfile and lendstream.vagrant.host give
    the same addresses, and every machine gets its apt-through-the-host provisioner."""
    moved = {
        "LENDSTREAM_VAGRANT_BOX": box.BOX_NAME,
        "LENDSTREAM_VAGRANT_NETWORK": "192.168.62.0/24",
        "LENDSTREAM_VAGRANT_MEMORY_MIB": "1536",
        "LENDSTREAM_VAGRANT_CPUS": "1",
        "LENDSTREAM_VAGRANT_TAGS": "common,artifacts",
    }
    for key, value in moved.items():
        monkeypatch.setenv(key, value)
    layout = load_cluster().layout("ci")
    recorded = _record_vagrantfile(tmp_path, "ci", with_playbook=True, env=moved)
    assert recorded["box"] == box.BOX_NAME
    assert [t[0] for t in recorded["triggers"]] == ["before", "after"]
    proxy = host.apt_proxy_url(layout)
    assert proxy == f"http://192.168.62.1:{aptproxy.PROXY_PORT}"
    for machine, node in zip(recorded["machines"], layout.nodes, strict=True):
        address = str(host.node_address(layout, node.name))
        assert machine["networks"][0]["ip"] == address
        assert machine["providers"]["libvirt"]["memory"] == 1536
        assert machine["providers"]["libvirt"]["cpus"] == 1
        assert machine["providers"]["libvirt"]["management_network_address"] == str(
            host.management_network(layout)
        )
        shell = machine["provisioners"][0]
        assert (shell["type"], shell["args"]) == ("shell", [address, "192.168.62.1", proxy])
    ansible = recorded["machines"][-1]["provisioners"][-1]
    assert ansible["tags"] == ["common", "artifacts"]
    assert ansible["host_vars"]["m1"] == {"ansible_host": "192.168.62.11"}
    # The firewall (common role) lets SSH in from the controller: Ansible's address on the
    # private network and Vagrant's own (the management network's host, VirtualBox's NAT).
    option, extra_vars = ansible["raw_arguments"]
    assert option == "--extra-vars"
    assert json.loads(extra_vars) == {
        "common_firewall_controller_addresses": [
            "192.168.62.1",
            str(host.management_network(layout).network_address + 1),
            "10.0.2.2",
        ]
    }


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
