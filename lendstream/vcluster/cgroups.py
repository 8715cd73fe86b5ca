"""A cgroup of its own for each node, with its memory and CPU ceilings.

The host has no systemd as PID 1, so nspawn runs with --keep-unit and uses the cgroup its
launcher is in: every node needs its own, or all nodes share one and the systemd inside each
misreports its services. Nodes nest under the caller's own cgroup in each hierarchy (this host is
hybrid: v1 controllers, the named `systemd` hierarchy and a v2 `unified` one; a pure v2 host has
just the one). The directories used are recorded so `down` removes exactly those.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from lendstream.cluster import Size

CGROUP_ROOT = Path("/sys/fs/cgroup")
# v1 hierarchies a node joins (when mounted); `systemd` and `unified` are required by nspawn.
V1_HIERARCHIES = ("systemd", "memory", "cpu", "cpuacct", "pids", "unified")
CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class NodeCgroups:
    directories: tuple[Path, ...]

    def memory_dir(self) -> Path | None:
        for directory in self.directories:
            if (directory / "memory.limit_in_bytes").exists() or (
                directory / "memory.max"
            ).exists():
                return directory
        return None


def is_pure_v2() -> bool:
    return (CGROUP_ROOT / "cgroup.controllers").exists()


def _own_path(hierarchy_name: str) -> str:
    """This process's cgroup path in one hierarchy ('' key for v2)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        names = controllers.split(",") if controllers else [""]
        if hierarchy_name in names or f"name={hierarchy_name}" in names:
            return path
    return "/"


def node_cgroup_dirs(group_name: str, node_name: str) -> tuple[Path, ...]:
    if is_pure_v2():
        # v2 forbids processes beside enabled controllers, so nodes go under the root here.
        return (CGROUP_ROOT / group_name / node_name,)
    directories = []
    for hierarchy in V1_HIERARCHIES:
        mount = CGROUP_ROOT / hierarchy
        if not (mount / "cgroup.procs").exists():
            continue
        key = "" if hierarchy == "unified" else hierarchy
        own = _own_path(key).lstrip("/")
        directories.append(mount / own / group_name / node_name)
    return tuple(directories)


def create(directories: tuple[Path, ...], size: Size) -> NodeCgroups:
    for directory in directories:
        directory.mkdir(parents=True, exist_ok=True)
    cgroups = NodeCgroups(directories)
    limit = size.memory_mib * 1024 * 1024
    for directory in directories:
        if (directory / "memory.limit_in_bytes").exists():
            (directory / "memory.limit_in_bytes").write_text(str(limit))
        if (directory / "cpu.cfs_quota_us").exists():
            (directory / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            (directory / "cpu.cfs_quota_us").write_text(str(size.cpus * CPU_PERIOD_US))
        if is_pure_v2():
            _enable_v2_controllers(directory)
            (directory / "memory.max").write_text(str(limit))
            (directory / "cpu.max").write_text(f"{size.cpus * CPU_PERIOD_US} {CPU_PERIOD_US}")
    return cgroups


def _enable_v2_controllers(directory: Path) -> None:
    for parent in (CGROUP_ROOT, directory.parent):
        (parent / "cgroup.subtree_control").write_text("+memory +cpu")


def join(directories: tuple[Path, ...]) -> None:
    """Move the calling process into the node's cgroups (the launcher does this first)."""
    for directory in directories:
        (directory / "cgroup.procs").write_text(str(os.getpid()))


def processes(directories: tuple[Path, ...]) -> set[int]:
    pids: set[int] = set()
    for directory in directories:
        if not directory.exists():
            continue
        for procs in directory.rglob("cgroup.procs"):
            try:
                pids.update(int(p) for p in procs.read_text().split())
            except OSError:
                continue
    return pids


def memory_usage_bytes(directories: tuple[Path, ...]) -> int | None:
    for directory in directories:
        for name in ("memory.usage_in_bytes", "memory.current"):
            path = directory / name
            if path.exists():
                return int(path.read_text())
    return None


def kill_all(directories: tuple[Path, ...]) -> None:
    for pid in processes(directories):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def remove(directories: tuple[Path, ...], timeout_s: float = 15) -> list[Path]:
    """Remove the node's cgroup trees (children first); return the directories that remain."""
    deadline = time.monotonic() + timeout_s
    remaining = [d for d in directories if d.exists()]
    while remaining and time.monotonic() < deadline:
        kill_all(tuple(remaining))
        for directory in remaining:
            subdirs = sorted(
                (p for p in directory.rglob("*") if p.is_dir()),
                key=lambda p: len(p.parts),
                reverse=True,
            )
            for subdir in [*subdirs, directory]:
                with contextlib.suppress(OSError):
                    subdir.rmdir()
        remaining = [d for d in remaining if d.exists()]
        if remaining:
            time.sleep(0.2)
    return remaining


def remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()
