"""The caching apt proxy (nginx) on the layout's bridge address.

Nodes have no route out; they fetch Debian packages through this proxy, which downloads each
file once for all nodes (concurrent requests for one file wait for that one download) and keeps
it in the machine-wide cache (one cache directory per layout: two nginx processes must not
manage one cache). It serves /debian and /debian-security, mapped onto the host's own mirrors,
so nodes name no mirror host.

It was apt-cacher-ng until that wedged in CI: Debian's 3.7.4 spun one thread at 100 % CPU in
its file registry (`TFileItemHolder::~TFileItemHolder`, erasing from a corrupted tree) while
holding the lock every request needs, after clients had given up on requests, so every node's
`apt update` waited forever. nginx's proxy cache does the same job.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from lendstream.cluster import Layout
from lendstream.vcluster import processes
from lendstream.vcluster.hostdeps import find_program
from lendstream.vcluster.mirrors import SUITE, DebianMirrors, debian_mirrors
from lendstream.vcluster.paths import layout_state_dir, shared_cache_dir

# Not 3142 (apt-cacher-ng's, which a host may run) nor 80; vagrant/cluster.rb names it too.
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
    return layout_state_dir(layout.name) / "aptproxy"


def cache_dir(layout: Layout) -> Path:
    return shared_cache_dir() / "aptproxy" / layout.name


# Index files under dists/ change in place (InRelease, and Packages when not fetched by hash):
# one minute fresh, then revalidated upstream (a conditional request). Everything else (pool
# files, by-hash indexes) is named by its content and kept. Workers run as root, like the rest of
# the harness: the cache lives under root's home.
NGINX_CONF = """\
# lendstream.vcluster.aptproxy: layout %(layout)s's apt proxy, rewritten at each start.
daemon off;
user root;
worker_processes 1;
pid %(state)s/nginx.pid;
error_log %(state)s/log/error.log warn;
events { worker_connections 1024; }
http {
    log_format transfers '$msec|$status|$upstream_cache_status|$upstream_bytes_received|'
                         '$bytes_sent|$remote_addr|$request_uri';
    access_log %(state)s/log/access.log transfers;
    client_body_temp_path %(state)s/tmp/client_body;
    proxy_temp_path %(state)s/tmp/proxy;
    fastcgi_temp_path %(state)s/tmp/fastcgi;
    uwsgi_temp_path %(state)s/tmp/uwsgi;
    scgi_temp_path %(state)s/tmp/scgi;
    proxy_cache_path %(cache)s levels=1:2 keys_zone=apt:16m max_size=16g inactive=60d
                     use_temp_path=off;
    proxy_cache apt;
    proxy_cache_lock on;
    proxy_cache_lock_timeout 120s;
    proxy_cache_lock_age 120s;
    proxy_cache_revalidate on;
    proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_connect_timeout 15s;
    proxy_read_timeout 60s;
    server {
        listen %(address)s:%(port)d;
%(locations)s
    }
}
"""


def _locations(mirrors: DebianMirrors) -> str:
    """Each served path onto its mirror: dists/ fresh for a minute, the rest kept."""
    blocks = []
    for path, mirror in (("debian", mirrors.archive), ("debian-security", mirrors.security)):
        upstream = mirror.rstrip("/")
        blocks += [
            f"        location /{path}/dists/ {{ proxy_pass {upstream}/dists/;"
            " proxy_cache_valid 200 1m; }",
            f"        location /{path}/ {{ proxy_pass {upstream}/; proxy_cache_valid 200 60d; }}",
        ]
    return "\n".join(blocks)


def _write_config(layout: Layout) -> Path:
    state = _state_dir(layout)
    for directory in (state / "conf", state / "log", state / "tmp", cache_dir(layout)):
        directory.mkdir(parents=True, exist_ok=True)
    config = state / "conf" / "nginx.conf"
    config.write_text(
        NGINX_CONF
        % {
            "layout": layout.name,
            "state": state,
            "cache": cache_dir(layout),
            "address": layout.host_address,
            "port": PROXY_PORT,
            "locations": _locations(debian_mirrors()),
        }
    )
    return config


def _pid_path(layout: Layout) -> Path:
    return _state_dir(layout) / "launcher.pid"


def running_pid(layout: Layout) -> int | None:
    return processes.read_live_pid(_pid_path(layout), "nginx")


def ensure_running(layout: Layout, timeout_s: float = 20) -> None:
    if running_pid(layout) is None:
        config = _write_config(layout)
        program = find_program("nginx") or "nginx"
        log = (_state_dir(layout) / "log" / "stdout.log").open("ab")
        child = subprocess.Popen(
            [program, "-c", str(config)],
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
        f"the apt proxy (nginx) did not listen on {layout.host_address}:{PROXY_PORT} "
        f"within {timeout_s:.0f} s\n{recent_log(layout)}"
    )


def stop(layout: Layout, timeout_s: float = 10) -> None:
    # Also one whose pid file is gone (state dir removed by hand), found by its config path.
    pids = set(processes.find("nginx", str(_state_dir(layout))))
    recorded = running_pid(layout)
    if recorded is not None:
        pids.add(recorded)
    for pid in pids:
        processes.terminate(pid, timeout_s)
    _pid_path(layout).unlink(missing_ok=True)


def recent_log(layout: Layout, lines: int = 20) -> str:
    """The last lines of the proxy's transfer and error logs, for a failure message."""
    parts = []
    for name in ("access.log", "error.log", "stdout.log"):
        log = _state_dir(layout) / "log" / name
        tail = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
        parts.append(f"--- apt proxy {name} (last {len(tail)} lines)\n" + "\n".join(tail))
    return "\n".join(parts)


def stats(layout: Layout) -> str:
    """Bytes fetched from upstream vs served to nodes, from the proxy's transfer log."""
    log = _state_dir(layout) / "log" / "access.log"
    fetched = served = 0
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            fields = line.split("|")
            if len(fields) < 5:
                continue
            # Several upstream attempts are listed comma-separated; "-" when served from cache.
            fetched += sum(int(n) for n in fields[3].replace(" ", "").split(",") if n.isdigit())
            served += int(fields[4]) if fields[4].isdigit() else 0
    return f"apt proxy: fetched {fetched / 1e6:.1f} MB upstream, served {served / 1e6:.1f} MB"
