"""The booted small layout: SSH, names, Ansible, testinfra, apt through the proxy, reboot."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import testinfra

from lendstream.cluster import Layout
from lendstream.vcluster import aptproxy, disks, lifecycle, nodes, ssh
from lendstream.vcluster.paths import inventory_path

pytestmark = pytest.mark.vcluster
ANSIBLE = Path(sys.executable).with_name("ansible")

PROBE_PEERS = """
import socket, sys
for name in sys.argv[1:]:
    address = socket.gethostbyname(name)
    with socket.create_connection((name, 22), timeout=5) as conn:
        banner = conn.recv(64).decode(errors="replace").strip()
    print(name, address, banner.split("-")[0:2])
"""


def _ansible(
    layout: Layout, *args: str, timeout_s: float = 180, explain: Callable[[], str] | None = None
) -> str:
    """Run an ad-hoc Ansible command on the layout; on failure, ``explain`` adds what it saw."""
    command = [str(ANSIBLE), "-i", str(inventory_path(layout.name)), *args]
    try:
        result = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as timed_out:
        pytest.fail(f"{' '.join(args)}: no answer in {timeout_s:.0f} s\n{timed_out.stdout!r}")
    assert result.returncode == 0, (
        result.stdout + result.stderr + ("\n" + explain() if explain else "")
    )
    return result.stdout


def _apt_activity(layout: Layout) -> str:
    """Each node's apt processes and connections to the proxy, and the proxy's recent log."""
    port = aptproxy.PROXY_PORT
    report = []
    for node in layout.nodes:
        seen = ssh.run(
            layout,
            node,
            f"ps -eo pid,etime,stat,args | grep -E '[a]pt|[d]pkg|[h]ttp'; ss -tn 'dport = :{port}'",
            timeout_s=20,
        )
        report.append(f"--- {node.name}\n{seen.stdout}{seen.stderr}")
    return "\n".join(report) + "\n" + aptproxy.recent_log(layout)


def test_up_again_changes_nothing(vcluster: Layout) -> None:
    before = {n.name: nodes.launcher_pid(vcluster, n) for n in vcluster.nodes}
    boot_ids = {
        n.name: ssh.run(vcluster, n, "cat /proc/sys/kernel/random/boot_id").stdout
        for n in vcluster.nodes
    }
    lifecycle.up(vcluster)
    assert {n.name: nodes.launcher_pid(vcluster, n) for n in vcluster.nodes} == before
    assert {
        n.name: ssh.run(vcluster, n, "cat /proc/sys/kernel/random/boot_id").stdout
        for n in vcluster.nodes
    } == boot_ids


def test_every_node_answers_ssh_as_itself(vcluster: Layout) -> None:
    for node in vcluster.nodes:
        result = ssh.run(vcluster, node, "hostname; hostname -f; id -un; sudo -n id -un")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [node.name, node.fqdn, "deploy", "root"]


def test_every_node_reaches_every_other_by_name(vcluster: Layout) -> None:
    for node in vcluster.nodes:
        peers = [p for p in vcluster.nodes if p is not node]
        names = [p.name for p in peers] + [p.fqdn for p in peers]
        result = ssh.run(vcluster, node, f"python3 -c '{PROBE_PEERS}' {' '.join(names)}")
        assert result.returncode == 0, f"{node.name}: {result.stderr}"
        reached = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()}
        assert reached == {
            **{p.name: str(p.address) for p in peers},
            **{p.fqdn: str(p.address) for p in peers},
        }
        assert all("'SSH'" in line for line in result.stdout.splitlines())


def test_ansible_ping_reaches_every_node(vcluster: Layout) -> None:
    output = _ansible(vcluster, "all", "-m", "ansible.builtin.ping")
    for node in vcluster.nodes:
        assert f"{node.name} | SUCCESS" in output


def test_ansible_facts_show_each_node_its_own_address_and_default_route(vcluster: Layout) -> None:
    output = _ansible(
        vcluster, "all", "-m", "ansible.builtin.setup", "-a", "filter=ansible_default_ipv4"
    )
    for node in vcluster.nodes:
        section = output.split(f"{node.name} | SUCCESS")[1].split(" | SUCCESS")[0]
        assert f'"address": "{node.address}"' in section
        assert f'"gateway": "{vcluster.host_address}"' in section


def test_testinfra_sees_systemd_running_hostname_and_address(
    vcluster: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # testinfra's ansible backend runs ansible-inventory from PATH: use this environment's.
    monkeypatch.setenv("PATH", f"{ANSIBLE.parent}:{os.environ['PATH']}")
    hosts = testinfra.get_hosts(
        ["ansible://all"], ansible_inventory=str(inventory_path(vcluster.name))
    )
    assert len(hosts) == len(vcluster.nodes)
    by_name = {node.name: node for node in vcluster.nodes}
    seen = set()
    for host in hosts:
        name = host.check_output("hostname")
        node = by_name[name]
        seen.add(name)
        assert host.run("systemctl is-system-running").stdout.strip() == "running"
        assert host.system_info.distribution == "debian"
        assert host.system_info.release.startswith("12")
        assert str(node.address) in host.interface("host0").addresses
        assert host.service("ssh").is_running
        assert host.service("ssh").is_enabled
        assert host.socket("tcp://0.0.0.0:22").is_listening
        assert host.service("systemd-networkd").is_running
    assert seen == set(by_name)


def test_each_node_sees_its_own_memory_and_cpu_ceiling(vcluster: Layout) -> None:
    for node in vcluster.nodes:
        result = ssh.run(
            vcluster,
            node,
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        )
        memory, quota = result.stdout.split()
        assert int(memory) == node.size.memory_mib * 2**20
        assert int(quota) == node.size.cpus * 100_000


def test_nodes_install_debian_packages_through_the_proxy(vcluster: Layout) -> None:
    """Each node updates its package lists and installs a package through the apt proxy, all
    at once (the proxy's concurrent requests for one file). A hang fails within the task's
    bound and says what each node's apt was doing and what the proxy logged."""
    output = _ansible(
        vcluster,
        "all",
        "--become",
        "-m",
        "ansible.builtin.apt",
        "-a",
        "name=tree update_cache=true",
        "--task-timeout",
        "240",
        timeout_s=300,
        explain=lambda: _apt_activity(vcluster),
    )
    assert output.count("SUCCESS") + output.count("CHANGED") == len(vcluster.nodes)
    for node in vcluster.nodes:
        assert ssh.run(vcluster, node, "tree --version").returncode == 0
    print(aptproxy.stats(vcluster))


def test_ansible_reboot_module_reboots_a_node(vcluster: Layout) -> None:
    node = vcluster.nodes[-1]
    boot_id = ssh.run(vcluster, node, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
    launcher = nodes.launcher_pid(vcluster, node)
    output = _ansible(
        vcluster, node.name, "--become", "-m", "ansible.builtin.reboot", "-a", "reboot_timeout=120"
    )
    assert '"rebooted": true' in output
    after = ssh.run(
        vcluster, node, "cat /proc/sys/kernel/random/boot_id; systemctl is-system-running --wait"
    )
    new_boot_id, state = after.stdout.split()
    assert new_boot_id != boot_id
    assert state == "running"
    assert nodes.launcher_pid(vcluster, node) == launcher  # the same launcher restarted nspawn


def test_status_lists_every_node_running(vcluster: Layout) -> None:
    states = {entry.node.name: entry.state for entry in lifecycle.status(vcluster)}
    assert states == {node.name: "running" for node in vcluster.nodes}


def test_an_extra_disk_is_an_ext4_mount_in_the_node_and_leaves_nothing(vcluster: Layout) -> None:
    """The disk-full fault's disk: the node sees an ext4 filesystem of its size (what the node
    exporter reports), written full it has nothing left, and detaching frees the loop device."""
    node = vcluster.nodes[-1]
    mountpoint = "/var/lib/lendstream-test-disk"
    disks.attach(vcluster, node, mountpoint, size_mib=16)
    try:
        seen = ssh.run(
            vcluster,
            node,
            f"findmnt --noheadings --output FSTYPE {mountpoint};"
            f" sudo -n dd if=/dev/zero of={mountpoint}/fill bs=1M count=16 status=none;"
            f" df --output=avail -B1 {mountpoint} | tail -1",
        )
        fstype, available = seen.stdout.split()
        assert fstype == "ext4"
        assert int(available) == 0
        assert "No space left on device" in seen.stderr
    finally:
        disks.detach(vcluster, node, mountpoint)
    assert ssh.run(vcluster, node, f"findmnt {mountpoint}").returncode != 0
    assert not disks.loop_devices_under(nodes.node_dir(vcluster, node))
