"""Host prerequisites: root, and the Debian packages the harness drives."""

from __future__ import annotations

import os
import shutil
import subprocess

# Debian package -> the programs the harness needs from it.
HOST_PACKAGES: dict[str, tuple[str, ...]] = {
    "systemd-container": ("systemd-nspawn",),
    "debootstrap": ("debootstrap",),
    "nginx-light": ("nginx",),
    "openssh-client": ("ssh", "ssh-keygen", "ssh-keyscan"),
    "iproute2": ("ip",),
    # site.yml pushes the bundles and the wheelhouse with rsync (ansible.posix.synchronize).
    "rsync": ("rsync",),
}
# Not needed to run nodes; the tests use them to check the Vagrantfile against cluster.yml.
VAGRANT_CHECK_PACKAGES: dict[str, tuple[str, ...]] = {"vagrant": ("vagrant",), "ruby": ("ruby",)}
_EXTRA_PATH = ("/usr/sbin", "/sbin")


class HostNotReadyError(RuntimeError):
    """The host cannot run the simulated cluster; the message says what to do."""


def find_program(program: str) -> str | None:
    search = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_PATH])
    return shutil.which(program, path=search)


def missing_packages(packages: dict[str, tuple[str, ...]] = HOST_PACKAGES) -> list[str]:
    return [
        package
        for package, programs in packages.items()
        if any(find_program(program) is None for program in programs)
    ]


def install_command(packages: list[str]) -> list[str]:
    # --no-install-recommends: with recommends, systemd-container pulls libnss-mymachines,
    # which edits the host's /etc/nsswitch.conf.
    return ["apt-get", "install", "-y", "--no-install-recommends", *packages]


def check_host() -> None:
    """Raise HostNotReadyError unless running as root with every host package present."""
    problems = []
    if os.geteuid() != 0:
        problems.append(
            "the simulated cluster needs root (network bridge, cgroups, systemd-nspawn): "
            "run it with sudo or as root"
        )
    missing = missing_packages()
    if missing:
        problems.append(
            "missing host packages: "
            + " ".join(missing)
            + "\n  install them with: "
            + " ".join(install_command(missing))
            + "\n  or: python -m lendstream.vcluster install-host-deps"
        )
    if problems:
        raise HostNotReadyError("\n".join(problems))


def install_host_packages() -> None:
    """apt-get install the missing host packages, and vagrant + ruby for the Vagrantfile checks
    (no recommends; Debian's nginx service is not needed: the harness runs its own proxy)."""
    if os.geteuid() != 0:
        raise HostNotReadyError("installing host packages needs root")
    missing = missing_packages({**HOST_PACKAGES, **VAGRANT_CHECK_PACKAGES})
    if not missing:
        print("host packages present: " + " ".join({**HOST_PACKAGES, **VAGRANT_CHECK_PACKAGES}))
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(install_command(missing), check=True, env=env)
