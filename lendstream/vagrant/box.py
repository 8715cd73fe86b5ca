"""The local Vagrant box: Debian 12 for libvirt, built from the simulated nodes' base.

Vagrant Cloud is out of reach here, so `make vagrant-box` builds the box from the same
debootstrap root filesystem as the simulated nodes (lendstream.vcluster.rootfs) plus what a
virtual machine needs and a container does not: a kernel and initramfs (Debian's cloud kernel,
virtio drivers), GRUB in the disk's boot sector, an fstab, DHCP on the first NIC (Vagrant's
management network) and the `vagrant` login with Vagrant's insecure key (Vagrant replaces it at
the first `up`). No loop device and no mount: the ext4 filesystem is written from the directory
(`mkfs.ext4 -d`), GRUB's boot sector and core image are copied in with dd.

Cached in ${LENDSTREAM_CACHE_DIR:-~/.cache/lendstream}/vagrant/box/bookworm-<key>/, the key
covering the base's recipe and this one; a changed recipe builds a new box.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import shutil
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from lendstream.vcluster import rootfs
from lendstream.vcluster.mirrors import SUITE, debian_mirrors
from lendstream.vcluster.paths import shared_cache_dir

BOX_NAME = "lendstream/bookworm64"
# What the VM needs beyond the nodes' base.
BOX_PACKAGES = ("linux-image-cloud-amd64", "initramfs-tools", "grub-pc-bin", "e2fsprogs")
VAGRANT_USER = "vagrant"
DISK_GIB = 16
PARTITION_START_SECTOR = 2048  # 1 MiB: room for GRUB's core image after the boot sector
KERNEL_COMMAND_LINE = "root=LABEL=root ro console=ttyS0,115200 net.ifnames=0 quiet"
GRUB_MODULES = "biosdisk part_msdos ext2 normal linux configfile search echo test"
GRUB_CFG = f"""\
set timeout=0
linux /vmlinuz {KERNEL_COMMAND_LINE}
initrd /initrd.img
boot
"""
FSTAB = "LABEL=root / ext4 errors=remount-ro 0 1\n"
# Vagrant's management network (the first NIC) by DHCP; names come from /etc/hosts, not DHCP.
MANAGEMENT_NETWORK = """\
[Match]
Name=eth0

[Network]
DHCP=ipv4

[DHCPv4]
UseDNS=no
UseHostname=no
"""
# The insecure public key Vagrant ships (and replaces with a generated one at the first `up`).
VAGRANT_INSECURE_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltG"
    "EFHzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSI"
    "Fo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NO"
    "Td0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8t"
    "ehUc9c9WhQ== vagrant insecure public key"
)
BOX_VAGRANTFILE = """\
# The lendstream Debian 12 box (lendstream/vagrant/box.py): the disk boots with GRUB; the
# console is the serial port (virsh console <domain>).
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.disk_bus = "virtio"
    libvirt.nic_model_type = "virtio"
  end
end
"""


def recipe_key() -> str:
    digest = hashlib.sha256()
    for part in (
        rootfs.recipe_key(),
        "\n".join(BOX_PACKAGES),
        VAGRANT_USER,
        str(DISK_GIB),
        KERNEL_COMMAND_LINE,
        GRUB_MODULES,
        GRUB_CFG,
        FSTAB,
        MANAGEMENT_NETWORK,
        VAGRANT_INSECURE_KEY,
        BOX_VAGRANTFILE,
        inspect.getsource(_install_packages),
        inspect.getsource(_customize),
        inspect.getsource(_disk_image),
        inspect.getsource(_partition_entry),
        inspect.getsource(_package),
    ):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def box_dir() -> Path:
    return shared_cache_dir().parent / "vagrant" / "box" / f"{SUITE}-{recipe_key()}"


def box_file() -> Path:
    return box_dir() / "lendstream-bookworm64.box"


def kernel_files() -> tuple[Path, Path] | None:
    """The box's kernel and initramfs (kept beside it: the KVM probe boots that kernel)."""
    directory = box_dir()
    kernel, initrd = directory / "vmlinuz", directory / "initrd.img"
    return (kernel, initrd) if (directory / "ready").exists() else None


def ensure_box(timeout_s: float = 1800) -> Path:
    """The built box file, building it first if its recipe changed (under the base's lock)."""
    target = box_dir()
    if (target / "ready").exists():
        return box_file()
    base = rootfs.ensure_base_rootfs(timeout_s)
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".lock").open("w") as lock:
        rootfs._lock(lock.fileno(), timeout_s)
        if (target / "ready").exists():
            return box_file()
        started = time.monotonic()
        work = target.parent / f".{target.name}.building"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        root = work / "root"
        print(f"building Vagrant box {target.name} from {base.parent.name} ...", flush=True)
        subprocess.run(["cp", "-a", str(base), str(root)], check=True, timeout=timeout_s)
        _install_packages(root, timeout_s)
        _customize(root)
        for link in ("vmlinuz", "initrd.img"):  # relative links into the box's /boot
            shutil.copy(root / (root / link).readlink(), work / link)
        image = _disk_image(root, work, timeout_s)
        shutil.rmtree(root)
        _package(work, image, timeout_s)
        image.unlink()
        # Older recipes' boxes and failed builds (under the lock: no build is running).
        for stale in [*target.parent.glob(f"{SUITE}-*"), *target.parent.glob(f".{SUITE}-*")]:
            if stale != work:
                shutil.rmtree(stale, ignore_errors=True)
        work.rename(target)
        size_mb = box_file().stat().st_size / 1e6
        seconds = time.monotonic() - started
        (target / "ready").write_text(f"built in {seconds:.0f} s, {size_mb:.0f} MB\n")
        print(f"box ready in {seconds:.0f} s: {box_file()} ({size_mb:.0f} MB)", flush=True)
    return box_file()


@contextlib.contextmanager
def _chroot_mounts(root: Path) -> Iterator[None]:
    mounts = [("proc", "proc", ["-t", "proc"]), ("sys", "sys", ["-t", "sysfs"])]
    mounts.append(("/dev", "dev", ["--bind"]))
    done: list[Path] = []
    try:
        for source, target, options in mounts:
            subprocess.run(["mount", *options, source, str(root / target)], check=True)
            done.append(root / target)
        yield
    finally:
        for path in reversed(done):
            subprocess.run(["umount", "--lazy", str(path)], check=False)


def _install_packages(root: Path, timeout_s: float) -> None:
    """The kernel and GRUB's modules, from the host's Debian mirror (build time only)."""
    mirrors = debian_mirrors()
    sources = root / "etc/apt/sources.list.d/box-build.list"
    sources.write_text(
        f"deb {mirrors.archive} {SUITE} main\ndeb {mirrors.security} {SUITE}-security main\n"
    )
    resolv = root / "etc/resolv.conf"
    kept_resolv = resolv.read_text()
    shutil.copy("/etc/resolv.conf", resolv)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "DEBIAN_FRONTEND": "noninteractive",
        "LANG": "C.UTF-8",
    }
    try:
        with _chroot_mounts(root):
            for command in (
                ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", *BOX_PACKAGES],
                ["apt-get", "clean"],
            ):
                subprocess.run(
                    ["chroot", str(root), *command], check=True, env=env, timeout=timeout_s
                )
    finally:
        sources.unlink(missing_ok=True)
        resolv.write_text(kept_resolv)
        for listing in (root / "var/lib/apt/lists").glob("*_*"):
            listing.unlink()


def _customize(root: Path) -> None:
    etc = root / "etc"
    (etc / "fstab").write_text(FSTAB)
    (etc / "systemd/network/80-vagrant-management.network").write_text(MANAGEMENT_NETWORK)
    grub = root / "boot/grub"
    grub.mkdir(parents=True, exist_ok=True)
    (grub / "grub.cfg").write_text(GRUB_CFG)
    subprocess.run(
        [
            "chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash",
            "--user-group", VAGRANT_USER,
        ],
        check=True,
    )  # fmt: skip
    ssh_dir = root / "home" / VAGRANT_USER / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "authorized_keys").write_text(VAGRANT_INSECURE_KEY + "\n")
    (ssh_dir / "authorized_keys").chmod(0o600)
    subprocess.run(
        [
            "chroot",
            str(root),
            "chown",
            "-R",
            f"{VAGRANT_USER}:{VAGRANT_USER}",
            f"/home/{VAGRANT_USER}",
        ],
        check=True,
    )
    sudoers = etc / "sudoers.d" / VAGRANT_USER
    sudoers.write_text(
        f"{VAGRANT_USER} ALL=(ALL) NOPASSWD:ALL\nDefaults:{VAGRANT_USER} !requiretty\n"
    )
    sudoers.chmod(0o440)


def _disk_image(root: Path, work: Path, timeout_s: float) -> Path:
    """A raw disk: MBR with GRUB's boot sector, its core image after it, one ext4 partition."""
    grub_lib = root / "usr/lib/grub/i386-pc"
    core = work / "core.img"
    subprocess.run(
        [
            "chroot", str(root), "grub-mkimage", "--format=i386-pc",
            "--prefix=(hd0,msdos1)/boot/grub", "--output=/boot/grub/core.img",
            *GRUB_MODULES.split(),
        ],
        check=True,
        timeout=timeout_s,
    )  # fmt: skip
    (root / "boot/grub/core.img").rename(core)
    shutil.copytree(grub_lib, root / "boot/grub/i386-pc", dirs_exist_ok=True)
    disk_bytes = DISK_GIB * 1024**3
    offset = PARTITION_START_SECTOR * 512
    filesystem = work / "root.ext4"
    with filesystem.open("wb") as handle:
        handle.truncate(disk_bytes - offset)
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(filesystem)],
        check=True,
        timeout=timeout_s,
    )
    raw = work / "disk.raw"
    with raw.open("wb") as handle:
        handle.truncate(disk_bytes)
    boot_sector = (grub_lib / "boot.img").read_bytes()
    core_image = core.read_bytes()
    if len(core_image) > offset - 512:
        raise RuntimeError(f"GRUB core image {len(core_image)} B does not fit before the partition")
    with raw.open("r+b") as disk:
        disk.write(boot_sector[:440])  # the boot code
        disk.seek(446)
        disk.write(
            _partition_entry(PARTITION_START_SECTOR, disk_bytes // 512 - PARTITION_START_SECTOR)
        )
        disk.seek(510)
        disk.write(b"\x55\xaa")
        disk.seek(512)
        disk.write(core_image)
    subprocess.run(
        ["dd", f"if={filesystem}", f"of={raw}", "bs=1M", f"seek={offset // 2**20}",
         "conv=notrunc,sparse", "status=none"],
        check=True,
        timeout=timeout_s,
    )  # fmt: skip
    filesystem.unlink()
    core.unlink()
    return raw


def _partition_entry(start_sector: int, sectors: int) -> bytes:
    """An MBR partition entry: bootable, Linux (0x83), addressed by LBA (CHS fields maxed out)."""
    chs_max = b"\xfe\xff\xff"
    return struct.pack("<B3sB3sII", 0x80, chs_max, 0x83, chs_max, start_sector, sectors)


def _package(work: Path, raw: Path, timeout_s: float) -> None:
    """The box: qcow2 image, metadata.json and the box's own Vagrantfile, in a plain tar."""
    image = work / "box.img"
    subprocess.run(
        ["qemu-img", "convert", "-O", "qcow2", str(raw), str(image)], check=True, timeout=timeout_s
    )
    metadata = {"provider": "libvirt", "format": "qcow2", "virtual_size": DISK_GIB}
    metadata["lendstream_recipe"] = recipe_key()  # type: ignore[assignment]
    (work / "metadata.json").write_text(json.dumps(metadata) + "\n")
    (work / "Vagrantfile").write_text(BOX_VAGRANTFILE)
    subprocess.run(
        ["tar", "-cf", str(work / box_file().name), "-C", str(work),
         "metadata.json", "Vagrantfile", "box.img"],
        check=True,
        timeout=timeout_s,
    )  # fmt: skip
    image.unlink()
    os.sync()


def installed_metadata() -> Path:
    vagrant_home = Path(os.environ.get("VAGRANT_HOME") or Path.home() / ".vagrant.d")
    return (
        vagrant_home / "boxes" / BOX_NAME.replace("/", "-VAGRANTSLASH-") / "0/libvirt/metadata.json"
    )


def install_box() -> None:
    """Build the box if needed and add it to Vagrant unless the same recipe is there already.
    A replaced box's image volume in libvirt's pool (vagrant-libvirt's copy) is deleted too,
    else new machines would still start from the old one."""
    path = ensure_box()
    metadata = installed_metadata()
    if (
        metadata.exists()
        and json.loads(metadata.read_text()).get("lendstream_recipe") == recipe_key()
    ):
        print(f"box {BOX_NAME} is up to date ({recipe_key()})")
        return
    subprocess.run(
        ["vagrant", "box", "add", "--force", "--name", BOX_NAME, str(path)], check=True, timeout=600
    )
    from lendstream.vagrant import host  # noqa: PLC0415 - libvirt only matters when replacing

    host.ensure_libvirtd()
    host.delete_box_volumes()
    print(f"box {BOX_NAME} added ({recipe_key()})")
