"""The caching apt proxy (apt-cacher-ng) on the layout's bridge address.

Nodes have no route out; they fetch Debian packages through this proxy, which downloads each
package once for all nodes and keeps it in the machine-wide cache (one cache directory per
layout, since two apt-cacher-ng processes must not share one). It serves /debian and
/debian-security, mapped onto the host's own mirrors, so nodes name no mirror host.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from lendstream.cluster import Layout
from lendstream.vcluster import processes
from lendstream.vcluster.hostdeps import find_program
from lendstream.vcluster.mirrors import SUITE, debian_mirrors
from lendstream.vcluster.paths import layout_state_dir, shared_cache_dir

# Not 3142: a host that runs Debian's own apt-cacher-ng service already listens there.
PROXY_PORT = 3149


def proxy_url(layout: Layout) -> str:
    return f"http://{layout.host_address}:{PROXY_PORT}"


def node_apt_sources(layout: Layout) -> str:
    """The deb822 sources file every node gets: both suites through the proxy."""
    url = proxy_url(layout)
    return (
        "# Simulated node: Debian through the apt proxy on the bridge (lendstream.vcluster).\n"
        f"Types: deb\nURIs: {url}/debian\nSuites: {SUITE} {SUITE}-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        f"Types: deb\nURIs: {url}/debian-security\nSuites: {SUITE}-security\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )


def _state_dir(layout: Layout) -> Path:
    return layout_state_dir(layout.name) / "apt-cacher-ng"


def cache_dir(layout: Layout) -> Path:
    return shared_cache_dir() / "apt-cacher-ng" / layout.name


def _write_config(layout: Layout) -> Path:
    mirrors = debian_mirrors()
    config = _state_dir(layout) / "conf"
    config.mkdir(parents=True, exist_ok=True)
    (_state_dir(layout) / "log").mkdir(exist_ok=True)
    cache_dir(layout).mkdir(parents=True, exist_ok=True)
    (config / "backends_debian").write_text(mirrors.archive + "/\n")
    (config / "backends_debian_security").write_text(mirrors.security + "/\n")
    (config / "acng.conf").write_text(
        f"CacheDir: {cache_dir(layout)}\n"
        f"LogDir: {_state_dir(layout) / 'log'}\n"
        "SupportDir: /usr/lib/apt-cacher-ng\n"
        f"Port: {PROXY_PORT}\n"
        f"BindAddress: {layout.host_address}\n"
        f"SocketPath: {_state_dir(layout) / 'socket'}\n"
        f"PidFile: {_state_dir(layout) / 'acng.pid'}\n"
        "Remap-debrep: /debian ; file:backends_debian\n"
        "Remap-secdeb: /debian-security ; file:backends_debian_security\n"
        "ExThreshold: 4\n"
        "ReportPage: acng-report.html\n"
    )
    return config


def _pid_path(layout: Layout) -> Path:
    return _state_dir(layout) / "launcher.pid"


def running_pid(layout: Layout) -> int | None:
    return processes.read_live_pid(_pid_path(layout), "apt-cacher-ng")


def ensure_running(layout: Layout, timeout_s: float = 20) -> None:
    if running_pid(layout) is None:
        config = _write_config(layout)
        program = find_program("apt-cacher-ng") or "apt-cacher-ng"
        log = (_state_dir(layout) / "log" / "stdout.log").open("ab")
        child = subprocess.Popen(
            [program, "-c", str(config), "ForeGround=1"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        _pid_path(layout).write_text(f"{child.pid}\n")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((str(layout.host_address), PROXY_PORT), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(
        f"apt-cacher-ng did not listen on {layout.host_address}:{PROXY_PORT} "
        f"within {timeout_s:.0f} s; see {_state_dir(layout) / 'log'}"
    )


def stop(layout: Layout, timeout_s: float = 10) -> None:
    # Also one whose pid file is gone (state dir removed by hand), found by its config path.
    pids = set(processes.find("apt-cacher-ng", str(_state_dir(layout))))
    recorded = running_pid(layout)
    if recorded is not None:
        pids.add(recorded)
    for pid in pids:
        processes.terminate(pid, timeout_s)
    _pid_path(layout).unlink(missing_ok=True)


def stats(layout: Layout) -> str:
    """Bytes fetched from upstream vs served to nodes, from the proxy's transfer log."""
    log = _state_dir(layout) / "log" / "apt-cacher.log"
    fetched = served = 0
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            fields = line.split("|")
            if len(fields) > 2 and fields[2].isdigit():
                if fields[1] == "I":
                    fetched += int(fields[2])
                elif fields[1] == "O":
                    served += int(fields[2])
    return f"apt proxy: fetched {fetched / 1e6:.1f} MB upstream, served {served / 1e6:.1f} MB"
