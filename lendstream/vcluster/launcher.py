"""One node's launcher: joins the node's cgroups, runs systemd-nspawn, restarts it on reboot.

Started detached by the harness as `python -m lendstream.vcluster.launcher <spec.json>`.
systemd-nspawn exits with 133 when the node reboots; the launcher starts it again, which is what
makes Ansible's `reboot` module work. SIGTERM is passed on to nspawn (an orderly poweroff) and
ends the loop.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType

from lendstream.vcluster import cgroups

REBOOT_EXIT_CODE = 133
MAX_REBOOTS_PER_MINUTE = 10


@dataclass(frozen=True)
class NodeSpec:
    machine: str
    hostname: str
    base_root: str
    upper_dir: str
    bridge: str
    cgroup_dirs: tuple[str, ...]
    console_log: str

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> NodeSpec:
        data = json.loads(path.read_text())
        data["cgroup_dirs"] = tuple(data["cgroup_dirs"])
        return cls(**data)


def nspawn_command(spec: NodeSpec) -> list[str]:
    return [
        "systemd-nspawn",
        "--quiet",
        "--boot",
        "--register=no",
        "--keep-unit",
        f"--directory={spec.base_root}",
        f"--overlay=+/:{spec.upper_dir}:/",
        f"--machine={spec.machine}",
        f"--hostname={spec.hostname}",
        f"--network-bridge={spec.bridge}",
        "--console=read-only",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
    ]


def run(spec: NodeSpec) -> int:
    cgroups.join(tuple(Path(d) for d in spec.cgroup_dirs))
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    reboots: list[float] = []
    with Path(spec.console_log).open("ab", buffering=0) as console:
        while True:
            console.write(f"--- launcher: starting {spec.machine} ---\n".encode())
            child = subprocess.Popen(
                nspawn_command(spec), stdin=subprocess.DEVNULL, stdout=console, stderr=console
            )
            if stopping:  # the signal came before nspawn existed
                child.send_signal(signal.SIGTERM)
            returncode = child.wait()
            console.write(f"--- launcher: nspawn exited {returncode} ---\n".encode())
            if stopping or returncode != REBOOT_EXIT_CODE:
                return 0 if stopping else returncode
            now = time.monotonic()
            reboots = [t for t in reboots if now - t < 60] + [now]
            if len(reboots) > MAX_REBOOTS_PER_MINUTE:
                console.write(b"--- launcher: rebooting in a loop, giving up ---\n")
                return returncode


def main() -> int:
    return run(NodeSpec.read(Path(sys.argv[1])))


if __name__ == "__main__":
    sys.exit(main())
