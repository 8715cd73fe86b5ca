"""A small extra disk for a simulated node, so that a full disk can be a fault.

A node's root is an overlay mount, which the node exporter leaves out (its default
`fs-types-exclude`), so filling it would show nothing. An extra disk is an ext4 image in the
node's state directory, on a loop device of the controller, mounted in the node's own mount
namespace (entered from the controller: the node may not touch block devices itself). To the node
it is a disk like any other: `/proc/mounts` lists it as ext4 and the exporter reports it.
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

from lendstream.cluster import Layout, Node
from lendstream.vcluster import nodes, processes

DEVICE_NODE = "/dev/lendstream-extra-disk"
COMMAND_TIMEOUT_S = 60


class DiskError(RuntimeError):
    pass


def image_path(layout: Layout, node: Node) -> Path:
    return nodes.node_dir(layout, node) / "extra-disk.img"


def _run(*argv: str) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as timeout:
        raise DiskError(f"{' '.join(argv)}: no answer in {COMMAND_TIMEOUT_S} s") from timeout
    if done.returncode != 0:
        raise DiskError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def init_pid(layout: Layout, node: Node) -> int:
    """The node's PID 1 as the controller sees it: the child of its systemd-nspawn (found by its
    machine name, whichever checkout started it)."""
    machine = f"--machine={nodes.machine_name(layout, node)} "
    nspawn = processes.find("systemd-nspawn", machine)
    if len(nspawn) != 1:
        raise DiskError(f"node {node.name}: {len(nspawn)} systemd-nspawn processes, not one")
    children = Path(f"/proc/{nspawn[0]}/task/{nspawn[0]}/children").read_text().split()
    if not children:
        raise DiskError(f"node {node.name}: systemd-nspawn has no init yet")
    return int(children[0])


def _in_node(layout: Layout, node: Node, script: str) -> str:
    return _run("nsenter", "-t", str(init_pid(layout, node)), "-m", "--", "sh", "-ec", script)


def loop_devices_under(directory: Path) -> list[str]:
    """Loop devices whose backing file is under directory (what a teardown must not leave)."""
    listing = _run("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE")
    directory = directory.resolve()  # losetup shows the backing file's real path
    return [
        name
        for name, _, back_file in (line.partition(" ") for line in listing.splitlines())
        if back_file.strip().startswith(f"{directory}/")
    ]


def attach(layout: Layout, node: Node, mountpoint: str, size_mib: int) -> None:
    """Make a fresh ext4 disk of size_mib and mount it at mountpoint inside the node."""
    image = image_path(layout, node)
    detach(layout, node, mountpoint)
    _run("truncate", "--size", f"{size_mib}M", str(image))
    _run("mkfs.ext4", "-q", "-F", str(image))
    device = _run("losetup", "--find", "--show", str(image)).strip()
    major, minor = (int(part, 16) for part in _run("stat", "-c", "%t %T", device).split())
    _in_node(
        layout,
        node,
        f"mknod {DEVICE_NODE} b {major} {minor} && mkdir -p {mountpoint}"
        f" && mount {DEVICE_NODE} {mountpoint}",
    )


def detach(layout: Layout, node: Node, mountpoint: str) -> None:
    """Unmount the extra disk inside the node (if it runs) and free its loop device and image;
    idempotent."""
    with contextlib.suppress(DiskError):
        _in_node(
            layout,
            node,
            f"if mountpoint -q {mountpoint}; then umount {mountpoint}; fi;"
            f" rm -f {DEVICE_NODE}; rmdir {mountpoint} 2>/dev/null || true",
        )
    release(layout, node)


def release(layout: Layout, node: Node) -> None:
    """Free the extra disk's loop device and image (the node down or its mount gone)."""
    image = image_path(layout, node)
    for device in loop_devices_under(image.parent):
        _run("losetup", "--detach", device)
    image.unlink(missing_ok=True)
