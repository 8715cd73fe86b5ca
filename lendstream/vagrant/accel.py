"""KVM or TCG: whether this host's KVM really runs guests, found once and cached.

A /dev/kvm that opens and answers its ioctls is not enough: on a nested host (this one runs in
a Firecracker VM) qemu starts with `-accel kvm` and the guest kernel then hangs without a word.
So the probe boots the box's own kernel with no disk under `-accel kvm`, the console on the
serial port, and waits for the kernel's panic at "no root filesystem" — proof that the CPU ran
the whole kernel start-up. A working KVM gets there in about a second; the probe allows
PROBE_TIMEOUT_S, then answers tcg (qemu's emulator: slow, but it works everywhere).

The answer is cached per host kernel, qemu binary and probe kernel
(${LENDSTREAM_CACHE_DIR:-~/.cache/lendstream}/vagrant/accel-<key>), so the Vagrantfile, which
runs this on every `vagrant` command, probes only once. LENDSTREAM_VAGRANT_ACCEL=kvm|tcg skips it.
Standard library only: the Vagrantfile may call it with the system's python3.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ACCELS = ("kvm", "tcg")
ENV_VARIABLE = "LENDSTREAM_VAGRANT_ACCEL"
PROBE_TIMEOUT_S = 20.0
PANIC_MARKER = b"Kernel panic - not syncing"
QEMU = "qemu-system-x86_64"


def _cache_root() -> Path:
    base = os.environ.get("LENDSTREAM_CACHE_DIR") or str(Path.home() / ".cache" / "lendstream")
    return Path(base) / "vagrant"


def probe_kernel() -> Path | None:
    """The newest kernel of a built box, else the host's own (if readable)."""
    kernels = sorted(
        (_cache_root() / "box").glob("*/vmlinuz"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    host = Path("/boot") / f"vmlinuz-{platform.release()}"
    for candidate in [*kernels, host]:
        if candidate.is_file() and os.access(candidate, os.R_OK):
            return candidate
    return None


def boots(accel: str, kernel: Path, timeout_s: float = PROBE_TIMEOUT_S) -> tuple[bool, float]:
    """Whether the kernel runs to its root-mount panic under this accelerator, and how long."""
    command = [
        "nice", "-n", "15", QEMU, "-accel", accel, "-m", "256", "-nodefaults", "-display", "none",
        "-serial", "stdio", "-no-reboot", "-kernel", str(kernel),
        "-append", "console=ttyS0 panic=-1",
    ]  # fmt: skip
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, capture_output=True, timeout=timeout_s, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - started
    return PANIC_MARKER in result.stdout, time.monotonic() - started


def choose(refresh: bool = False) -> tuple[str, str]:
    """(accelerator, why): from the environment, the cache, or a probe (then cached)."""
    forced = os.environ.get(ENV_VARIABLE, "").strip().lower()
    if forced and forced != "auto":
        if forced not in ACCELS:
            raise ValueError(f"{ENV_VARIABLE}={forced!r}: use kvm, tcg or auto")
        return forced, f"{ENV_VARIABLE}={forced}"
    kvm = Path("/dev/kvm")
    if not (kvm.exists() and os.access(kvm, os.R_OK | os.W_OK)):
        return "tcg", "no usable /dev/kvm"
    qemu = shutil.which(QEMU)
    kernel = probe_kernel()
    if qemu is None or kernel is None:
        # Nothing to probe with: trust /dev/kvm (not cached; make vagrant-box gives a kernel).
        return "kvm", "/dev/kvm present, not probed (no qemu or kernel to probe with)"
    key = hashlib.sha256(
        f"{platform.release()}\0{qemu}\0{Path(qemu).stat().st_mtime}\0{kernel}".encode()
    ).hexdigest()[:16]
    cache = _cache_root() / f"accel-{key}"
    if cache.exists() and not refresh:
        return cache.read_text().split()[0], f"cached in {cache}"
    ok, seconds = boots("kvm", kernel)
    accel = "kvm" if ok else "tcg"
    why = f"probe: {kernel.name} under KVM " + (
        f"booted in {seconds:.1f} s" if ok else f"gave no kernel output in {seconds:.0f} s"
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(f"{accel} {why}\n")
    return accel, why


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    accel, why = choose(refresh="--refresh" in args)
    print(accel)
    if "--why" in args:
        print(why, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
