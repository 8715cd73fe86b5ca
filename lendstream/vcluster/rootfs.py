"""The nodes' shared base root filesystem: Debian minbase + systemd + sshd, built once.

Built with debootstrap into the machine-wide cache, keyed by a hash of the package list and of
the recipe (the customising code and texts below), so a change to either builds a new base and
never alters one that running nodes use. Everything that differs per node (hostname,
machine-id, SSH host keys, address) is left out and goes into each node's overlay upper dir.
"""

from __future__ import annotations

import hashlib
import inspect
import shutil
import subprocess
import time
from pathlib import Path

from lendstream import file_lock
from lendstream.vcluster import processes
from lendstream.vcluster.mirrors import SUITE, debian_mirrors
from lendstream.vcluster.paths import shared_cache_dir

PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-apt",  # Ansible's apt module
    "iproute2",
    "iputils-ping",
    "sudo",
    "ca-certificates",
    "procps",
    "netbase",
    "curl",
)
DEPLOY_USER = "deploy"
DEPLOY_UID = 1000
MASKED_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "apt-daily.service",
    "apt-daily-upgrade.service",
    "e2scrub_all.timer",
    "fstrim.timer",
)
SSH_HOST_KEYS_UNIT = """\
[Unit]
Description=Generate this node's SSH host keys if it has none
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""
RESOLV_CONF = """\
# Simulated node: no DNS. Cluster names are in /etc/hosts; apt goes through the proxy on the
# bridge, which resolves mirror names on the host.
nameserver 127.0.0.1
options timeout:1 attempts:1
"""
APT_CONF = """\
// Simulated node: mirror snapshots may carry old Release dates.
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
// Disk per node: the apt proxy keeps the packages, nodes need not; no translations.
APT::Keep-Downloaded-Packages "false";
Acquire::Languages "none";
"""


def recipe_key() -> str:
    """Hash of what goes into the base: suite, packages, and the customising code and texts."""
    digest = hashlib.sha256()
    for part in (
        SUITE,
        "\n".join(PACKAGES),
        "\n".join(MASKED_UNITS),
        DEPLOY_USER,
        str(DEPLOY_UID),
        SSH_HOST_KEYS_UNIT,
        RESOLV_CONF,
        APT_CONF,
        inspect.getsource(_debootstrap),
        inspect.getsource(_customize),
        inspect.getsource(_enable),
    ):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def base_dir() -> Path:
    return shared_cache_dir() / "rootfs" / f"{SUITE}-{recipe_key()}"


def ensure_base_rootfs(timeout_s: float = 900) -> Path:
    """Return the ready base root filesystem, building it first if needed (under a lock)."""
    target = base_dir()
    root = target / "root"
    if (target / "ready").exists():
        return root
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".lock").open("w") as lock:
        _lock(lock.fileno(), timeout_s)
        if (target / "ready").exists():
            return root
        building = target.parent / f".{target.name}.building"
        shutil.rmtree(building, ignore_errors=True)
        started = time.monotonic()
        print(f"building base root filesystem {target.name} (debootstrap, once) ...", flush=True)
        _debootstrap(building / "root", timeout_s)
        _customize(building / "root")
        shutil.rmtree(target, ignore_errors=True)
        building.rename(target)
        (target / "ready").write_text(f"built in {time.monotonic() - started:.0f} s\n")
        print(f"base root filesystem ready in {time.monotonic() - started:.0f} s", flush=True)
        _prune_unused_bases(keep=target)
    return root


def _prune_unused_bases(keep: Path) -> None:
    """Remove bases of older recipes that no running node uses (nspawn names its directory)."""
    in_use = processes.command_lines()
    for other in keep.parent.glob(f"{SUITE}-*"):
        if other != keep and not any(str(other) in line for line in in_use):
            shutil.rmtree(other, ignore_errors=True)


def _lock(fd: int, timeout_s: float) -> None:
    """Take the build lock, waiting (bounded) for another process's build to finish."""
    if not file_lock.acquire(fd, timeout_s, poll_s=1):
        raise RuntimeError(f"another process has been building the base for {timeout_s:.0f} s")


def _debootstrap(root: Path, timeout_s: float) -> None:
    root.mkdir(parents=True)
    command = [
        "debootstrap",
        "--variant=minbase",
        "--include=" + ",".join(PACKAGES),
        SUITE,
        str(root),
        debian_mirrors().archive,
    ]
    log = root.parent / "debootstrap.log"
    with log.open("w") as output:
        result = subprocess.run(
            command, stdout=output, stderr=subprocess.STDOUT, timeout=timeout_s, check=False
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"debootstrap failed ({result.returncode}); last lines:\n{tail}")


def _customize(root: Path) -> None:
    etc = root / "etc"
    # Per-node identity comes from the node's upper dir.
    for key in (etc / "ssh").glob("ssh_host_*"):
        key.unlink()
    (etc / "hostname").unlink(missing_ok=True)
    (etc / "machine-id").write_text("")
    (root / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    # Network: systemd-networkd, static address per node (upper dir), no DNS.
    _enable(root, "systemd-networkd.service", "multi-user.target")
    (etc / "resolv.conf").unlink(missing_ok=True)
    (etc / "resolv.conf").write_text(RESOLV_CONF)
    # apt: sources come per layout (the proxy address differs); no timers taking the dpkg lock.
    (etc / "apt/sources.list").write_text("# see /etc/apt/sources.list.d/\n")
    (etc / "apt/apt.conf.d/90lendstream-vcluster").write_text(APT_CONF)
    for unit in MASKED_UNITS:
        masked = etc / "systemd/system" / unit
        masked.unlink(missing_ok=True)
        masked.symlink_to("/dev/null")
    # SSH host keys: the harness writes them into each node's upper dir; this unit is the net.
    unit_path = etc / "systemd/system/lendstream-ssh-host-keys.service"
    unit_path.write_text(SSH_HOST_KEYS_UNIT)
    _enable(root, unit_path.name, "multi-user.target")
    # The login Ansible uses: passwordless sudo, as on a Vagrant box or a real cluster.
    subprocess.run(
        [
            "chroot",
            str(root),
            "useradd",
            "--create-home",
            "--shell",
            "/bin/bash",
            "--uid",
            str(DEPLOY_UID),
            "--user-group",
            DEPLOY_USER,
        ],
        check=True,
    )
    sudoers = etc / "sudoers.d" / DEPLOY_USER
    sudoers.write_text(f"{DEPLOY_USER} ALL=(ALL) NOPASSWD:ALL\n")
    sudoers.chmod(0o440)
    # Keep the shared base small.
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True)
    for listing in (root / "var/lib/apt/lists").glob("*_*"):
        listing.unlink()


def _enable(root: Path, unit: str, target: str) -> None:
    wants = root / "etc/systemd/system" / f"{target}.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / unit
    if link.is_symlink() or link.exists():
        return
    for candidate in ("etc/systemd/system", "lib/systemd/system", "usr/lib/systemd/system"):
        if (root / candidate / unit).exists():
            link.symlink_to(f"/{candidate}/{unit}")
            return
    raise RuntimeError(f"unit {unit} not found in the base root filesystem")
