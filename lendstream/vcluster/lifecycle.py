"""up / down / status of a simulated cluster layout."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lendstream.cluster import Layout, Node
from lendstream.vcluster import aptproxy, cgroups, disks, network, nodes, processes, ssh
from lendstream.vcluster.hostdeps import check_host
from lendstream.vcluster.inventory import write_inventory
from lendstream.vcluster.paths import inventory_path, layout_state_dir
from lendstream.vcluster.rootfs import ensure_base_rootfs

BOOT_TIMEOUT_S = 180
SYSTEMD_READY_TIMEOUT_S = 120


class ClusterError(RuntimeError):
    """A node did not come up (the message carries its console tail)."""


@dataclass(frozen=True)
class NodeStatus:
    node: Node
    state: str  # stopped | booting | running | degraded | ...
    memory_mib: float | None


def up(layout: Layout) -> float:
    """Bring every node of the layout up (idempotent); returns the seconds it took."""
    check_host()
    started = time.monotonic()
    base_root = ensure_base_rootfs()
    network.check_network_is_free(layout)
    _check_not_running_elsewhere(layout)
    layout_state_dir(layout.name).mkdir(parents=True, exist_ok=True)
    network.ensure_bridge(layout)
    aptproxy.ensure_running(layout)
    cluster_public_key = Path(f"{ssh.ensure_cluster_key(layout)}.pub").read_text().strip()
    host_keys = {node.name: ssh.ensure_host_key(layout, node) for node in layout.nodes}
    ssh.write_client_files(layout, host_keys)
    for node in layout.nodes:
        if nodes.launcher_pid(layout, node) is not None:
            continue
        leftovers = nodes.stop(layout, node)  # a node that died: clear its remains first
        if leftovers:
            raise ClusterError(f"{node.name}: cannot clear an earlier run: {leftovers}")
        nodes.prepare(layout, node, cluster_public_key)
        nodes.start(layout, node, base_root)
    _wait_for_sshd(layout, host_keys, started)
    _wait_for_systemd(layout)
    path = write_inventory(layout)
    elapsed = time.monotonic() - started
    print(f"layout {layout.name}: {len(layout.nodes)} nodes up in {elapsed:.1f} s")
    print(f"inventory: {path}")
    return elapsed


def _check_not_running_elsewhere(layout: Layout) -> None:
    """One instance of a layout per machine: refuse if another checkout runs its nodes."""
    ours = str(layout_state_dir(layout.name))
    for line in processes.command_lines():
        if "systemd-nspawn" in line and f"--machine={layout.name}-" in line and ours not in line:
            raise ClusterError(
                f"layout {layout.name} is already running from another place ({line[:160]}); "
                "stop it there first (python -m lendstream.vcluster down in that checkout)"
            )


def _wait_for_sshd(layout: Layout, host_keys: dict[str, str], started: float) -> None:
    pending = list(layout.nodes)
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while pending and time.monotonic() < deadline:
        for node in list(pending):
            if nodes.launcher_pid(layout, node) is None:
                raise ClusterError(_failure(layout, node, "its launcher exited"))
            if ssh.sshd_answers(node, host_keys[node.name]):
                print(f"  {node.name} sshd answers after {time.monotonic() - started:.1f} s")
                pending.remove(node)
        if pending:
            time.sleep(0.5)
    if pending:
        raise ClusterError(
            "\n\n".join(
                _failure(layout, node, f"sshd not answering after {BOOT_TIMEOUT_S} s")
                for node in pending
            )
        )


def _wait_for_systemd(layout: Layout) -> None:
    """Wait (bounded) until systemd in every node has finished booting."""
    waits = {
        node.name: subprocess.Popen(
            [
                "ssh",
                "-F",
                str(ssh.ssh_config_path(layout.name)),
                "-o",
                "BatchMode=yes",
                node.name,
                f"timeout {SYSTEMD_READY_TIMEOUT_S} systemctl is-system-running --wait",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for node in layout.nodes
    }
    for name, wait in waits.items():
        try:
            output, _ = wait.communicate(timeout=SYSTEMD_READY_TIMEOUT_S + 15)
        except subprocess.TimeoutExpired:
            wait.kill()
            output = "timed out"
        state = output.strip().splitlines()[-1] if output.strip() else "unknown"
        if state != "running":
            node = layout.node(name)
            failed = ssh.run(layout, node, "systemctl --failed --no-legend; journalctl -n 30")
            raise ClusterError(
                f"{name}: systemd is {state!r}, not running\n{failed.stdout}{failed.stderr}"
            )


def _failure(layout: Layout, node: Node, what: str) -> str:
    return (
        f"node {node.name} ({node.address}): {what}; console tail "
        f"({nodes.console_log(layout, node)}):\n{nodes.console_tail(layout, node)}"
    )


def down(layout: Layout) -> float:
    """Stop every node and remove everything the layout made (idempotent); returns seconds."""
    check_host()
    started = time.monotonic()
    leftovers: list[str] = []
    for node in layout.nodes:  # all first: they power off in parallel
        nodes.request_poweroff(layout, node)
    # Launchers whose pid files are gone (state dir removed by hand) are found by command line.
    state = str(layout_state_dir(layout.name))
    for pid in processes.find(nodes.LAUNCHER_MODULE, state):
        processes.terminate(pid, timeout_s=30)
    for node in layout.nodes:
        leftovers += nodes.stop(layout, node)
        disks.release(layout, node)
    aptproxy.stop(layout)
    for node in layout.nodes:
        network.delete_link(nodes.veth_name(layout, node))
    network.delete_link(network.bridge_name(layout))
    for node in layout.nodes[:1]:
        for directory in cgroups.node_cgroup_dirs(nodes.cgroup_group(layout), node.name):
            cgroups.remove_if_empty(directory.parent)
    run_dirs = (nodes.NSPAWN_RUN_DIR / "propagate", nodes.NSPAWN_RUN_DIR / "locks")
    for directory in (*run_dirs, nodes.NSPAWN_RUN_DIR):
        cgroups.remove_if_empty(directory)  # only when no other nspawn uses it
    shutil.rmtree(layout_state_dir(layout.name), ignore_errors=True)
    leftovers += leftovers_of(layout)
    elapsed = time.monotonic() - started
    if leftovers:
        raise ClusterError("down left behind: " + "; ".join(leftovers))
    print(f"layout {layout.name}: down in {elapsed:.1f} s, nothing left")
    return elapsed


def leftovers_of(layout: Layout) -> list[str]:
    """Anything of the layout still on the host: processes, links, cgroups, mounts, state."""
    found = []
    if network.link_exists(network.bridge_name(layout)):
        found.append(f"bridge {network.bridge_name(layout)}")
    for node in layout.nodes:
        machine = nodes.machine_name(layout, node)
        for directory in cgroups.node_cgroup_dirs(nodes.cgroup_group(layout), node.name):
            if directory.exists():
                found.append(f"cgroup {directory}")
        if (nodes.NSPAWN_RUN_DIR / "propagate" / machine).exists():
            found.append(f"/run/systemd/nspawn/propagate/{machine}")
        if network.link_exists(nodes.veth_name(layout, node)):
            found.append(f"veth {nodes.veth_name(layout, node)}")
    state = str(layout_state_dir(layout.name))
    for cmdline in processes.command_lines():
        if state in cmdline or f"--machine={layout.name}-" in cmdline:
            found.append(f"process: {cmdline[:120]}")
    with open("/proc/self/mountinfo") as mounts:
        found += [f"mount {line.split()[4]}" for line in mounts if state in line]
    found += [f"loop device {device}" for device in disks.loop_devices_under(Path(state))]
    if layout_state_dir(layout.name).exists():
        found.append(f"state dir {layout_state_dir(layout.name)}")
    return found


def status(layout: Layout) -> list[NodeStatus]:
    result = []
    for node in layout.nodes:
        memory = cgroups.memory_usage_bytes(nodes.recorded_cgroups(layout, node))
        memory_mib = memory / 2**20 if memory is not None else None
        if nodes.launcher_pid(layout, node) is None:
            result.append(NodeStatus(node, "stopped", None))
            continue
        probe = ssh.run(layout, node, "systemctl is-system-running", timeout_s=10)
        state = probe.stdout.strip() or "booting"
        result.append(NodeStatus(node, state, memory_mib))
    return result


def print_status(layout: Layout) -> None:
    print(f"layout {layout.name} ({layout.network}, bridge {network.bridge_name(layout)})")
    for entry in status(layout):
        memory = f"{entry.memory_mib:7.1f} MiB" if entry.memory_mib is not None else "      -"
        limit = f"/ {entry.node.size.memory_mib} MiB"
        print(f"  {entry.node.name:4} {entry.node.address!s:15} {entry.state:10} {memory} {limit}")
    if inventory_path(layout.name).exists():
        print(f"inventory: {inventory_path(layout.name)}")
