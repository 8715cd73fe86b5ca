"""One simulated node: its overlay upper dir (identity), its launcher process, its state."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from lendstream.cluster import Layout, Node
from lendstream.vcluster import aptproxy, cgroups, processes, ssh
from lendstream.vcluster.launcher import NodeSpec
from lendstream.vcluster.network import bridge_name, delete_link, link_exists
from lendstream.vcluster.paths import layout_state_dir
from lendstream.vcluster.rootfs import DEPLOY_UID, DEPLOY_USER

LAUNCHER_MODULE = "lendstream.vcluster.launcher"
NSPAWN_RUN_DIR = Path("/run/systemd/nspawn")


def machine_name(layout: Layout, node: Node) -> str:
    """nspawn's machine name: unique across layouts (it names the host-side veth `vb-…`)."""
    return f"{layout.name}-{node.name}"


def veth_name(layout: Layout, node: Node) -> str:
    """The host side of the node's veth, as nspawn names it (fits IFNAMSIZ for our names)."""
    return f"vb-{machine_name(layout, node)}"[:15]


def cgroup_group(layout: Layout) -> str:
    return f"lendstream-vcluster-{layout.name}"


def node_dir(layout: Layout, node: Node) -> Path:
    return layout_state_dir(layout.name) / "nodes" / node.name


def upper_dir(layout: Layout, node: Node) -> Path:
    return node_dir(layout, node) / "upper"


def console_log(layout: Layout, node: Node) -> Path:
    return node_dir(layout, node) / "console.log"


def _spec_path(layout: Layout, node: Node) -> Path:
    return node_dir(layout, node) / "spec.json"


def _pid_path(layout: Layout, node: Node) -> Path:
    return node_dir(layout, node) / "launcher.pid"


def launcher_pid(layout: Layout, node: Node) -> int | None:
    return processes.read_live_pid(_pid_path(layout, node), str(_spec_path(layout, node)))


def recorded_cgroups(layout: Layout, node: Node) -> tuple[Path, ...]:
    path = _spec_path(layout, node)
    if not path.exists():
        return ()
    return tuple(Path(d) for d in NodeSpec.read(path).cgroup_dirs)


def hosts_file(layout: Layout) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{n.address}\t{n.fqdn} {n.name}" for n in layout.nodes]
    return "\n".join(lines) + "\n"


def network_file(layout: Layout, node: Node) -> str:
    return (
        "[Match]\nName=host0\n\n"
        "[Network]\n"
        f"Address={node.address}/{layout.network.prefixlen}\n"
        # A default route, so Ansible's ansible_default_ipv4 is set; the host does not forward.
        f"Gateway={layout.host_address}\n"
        "LinkLocalAddressing=no\nIPv6AcceptRA=no\n"
    )


def _write(root: Path, relative: str, text: str, mode: int = 0o644) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def prepare(layout: Layout, node: Node, cluster_public_key: str) -> None:
    """Write the node's identity into its upper dir (kept across restarts of the node)."""
    upper = upper_dir(layout, node)
    upper.mkdir(parents=True, exist_ok=True)
    if not (upper / "etc/machine-id").exists():
        _write(upper, "etc/machine-id", secrets.token_hex(16) + "\n", 0o444)
    _write(upper, "etc/hostname", node.name + "\n")
    _write(upper, "etc/hosts", hosts_file(layout))
    _write(upper, "etc/systemd/network/10-lendstream.network", network_file(layout, node))
    _write(upper, "etc/apt/sources.list.d/debian.sources", aptproxy.node_apt_sources(layout))
    private, public = ssh.host_key_files(layout, node)
    for source, mode in ((private, 0o600), (public, 0o644)):
        target = upper / "etc/ssh" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(mode)
    home = upper / "home" / DEPLOY_USER
    authorized = _write(home, ".ssh/authorized_keys", cluster_public_key + "\n", 0o600)
    authorized.parent.chmod(0o700)
    for path in (home, home / ".ssh", authorized):
        os.chown(path, DEPLOY_UID, DEPLOY_UID)


def start(layout: Layout, node: Node, base_root: Path) -> int:
    """Start the node's launcher (detached); returns its pid."""
    directories = cgroups.node_cgroup_dirs(cgroup_group(layout), node.name)
    cgroups.create(directories, node.size)
    spec = NodeSpec(
        machine=machine_name(layout, node),
        hostname=node.name,
        base_root=str(base_root),
        upper_dir=str(upper_dir(layout, node)),
        bridge=bridge_name(layout),
        cgroup_dirs=tuple(str(d) for d in directories),
        console_log=str(console_log(layout, node)),
    )
    spec.write(_spec_path(layout, node))
    child = subprocess.Popen(
        [sys.executable, "-m", LAUNCHER_MODULE, str(_spec_path(layout, node))],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=console_log(layout, node).open("ab"),
        start_new_session=True,
    )
    _pid_path(layout, node).write_text(f"{child.pid}\n")
    return child.pid


def request_poweroff(layout: Layout, node: Node) -> None:
    """SIGTERM to the launcher: nspawn powers the node off in order; returns at once."""
    pid = launcher_pid(layout, node)
    if pid is not None:
        processes.send_term(pid)


def power_off_hard(layout: Layout, node: Node) -> None:
    """Pull the plug: SIGKILL to every process of the node at once (its launcher included, so
    nothing restarts it). `lifecycle.up` boots it again, as after any node that died."""
    directories = recorded_cgroups(layout, node)
    pid = launcher_pid(layout, node)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    cgroups.kill_all(directories)


def stop(layout: Layout, node: Node, timeout_s: float = 30) -> list[str]:
    """Power the node off, wait (bounded; then kill), and remove whatever it left behind.

    Returns what could not be removed (empty when clean)."""
    pid = launcher_pid(layout, node)
    if pid is not None:
        processes.terminate(pid, timeout_s)
    leftovers: list[str] = []
    directories = recorded_cgroups(layout, node) or cgroups.node_cgroup_dirs(
        cgroup_group(layout), node.name
    )
    remaining = cgroups.remove(directories)
    leftovers += [f"cgroup {d}" for d in remaining]
    propagate = NSPAWN_RUN_DIR / "propagate" / machine_name(layout, node)
    shutil.rmtree(propagate, ignore_errors=True)
    if propagate.exists():
        leftovers.append(str(propagate))
    # A node killed hard can leave its host-side veth behind: the kernel keeps the node's network
    # namespace (and so the veth pair) alive while orphaned sockets of the killed processes
    # linger, and a new nspawn then fails to add the veth ("File exists"). Deleting one end
    # deletes the pair.
    link = veth_name(layout, node)
    delete_link(link)
    if link_exists(link):
        leftovers.append(f"veth {link}")
    _pid_path(layout, node).unlink(missing_ok=True)
    return leftovers


def console_tail(layout: Layout, node: Node, lines: int = 40) -> str:
    path = console_log(layout, node)
    if not path.exists():
        return "(no console log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
