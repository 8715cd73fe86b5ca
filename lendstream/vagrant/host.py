"""The host side of `vagrant up` on libvirt: daemons, the layout's networks, the apt proxy.

This host has no systemd as PID 1, so nothing starts libvirtd: `ensure_libvirtd` starts
virtlogd and libvirtd itself (idempotent), at nice 15 so that every qemu they spawn inherits it
and the guests yield to the other work on the machine. On a host with systemd it only checks.

Networks (both isolated: libvirt adds no forwarding, the guests reach each other and the host):
  lendstream-<layout>       the layout's private network from cluster.yml (or
                            LENDSTREAM_VAGRANT_NETWORK), host at .1, static addresses, no DHCP
  lendstream-<layout>-mgmt  Vagrant's management network (SSH and DHCP), four /24s below the
                            private one (or LENDSTREAM_VAGRANT_MANAGEMENT_NETWORK)
Both stay inside 192.168.56.0/21 and serve no DNS. The guests get Debian packages from the
apt proxy (nginx) on the private network's .1 (lendstream.vcluster.aptproxy, its own cache), the
same way as the simulated nodes. The Vagrantfile's triggers call `prepare` before `up` and
`release` after `destroy`; `leftovers` lists whatever of a layout is still defined.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import subprocess
import time
from pathlib import Path

from lendstream.cluster import Layout
from lendstream.vcluster import aptproxy, processes

LIBVIRT_URI = "qemu:///system"
NICE = 15
DAEMONS = ("virtlogd", "libvirtd")
ALLOWED_RANGE = ipaddress.IPv4Network("192.168.56.0/21")
BOX_VOLUME_PREFIX = "lendstream-VAGRANTSLASH-"


class HostError(RuntimeError):
    """The host cannot run the machines; the message says why."""


def private_network(layout: Layout) -> ipaddress.IPv4Network:
    return _network_from_env("LENDSTREAM_VAGRANT_NETWORK", layout.network)


def management_network(layout: Layout) -> ipaddress.IPv4Network:
    private = private_network(layout)
    default = ipaddress.IPv4Network((int(private.network_address) - 4 * 256, 24))
    return _network_from_env("LENDSTREAM_VAGRANT_MANAGEMENT_NETWORK", default)


def _network_from_env(variable: str, default: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    text = os.environ.get(variable)
    network = ipaddress.ip_network(text) if text else default
    if not isinstance(network, ipaddress.IPv4Network) or network.prefixlen != 24:
        raise HostError(f"{variable}={text}: give an IPv4 /24")
    if not network.subnet_of(ALLOWED_RANGE):
        raise HostError(f"{network} is outside {ALLOWED_RANGE}, the range the machines may use")
    return network


def node_address(layout: Layout, node_name: str) -> ipaddress.IPv4Address:
    """The node's cluster.yml address moved into the (possibly overridden) private network."""
    host_part = int(layout.node(node_name).address) - int(layout.network.network_address)
    return private_network(layout).network_address + host_part


def network_names(layout: Layout) -> tuple[str, str]:
    return f"lendstream-{layout.name}", f"lendstream-{layout.name}-mgmt"


def domain_prefix(layout: Layout) -> str:
    return f"lendstream-{layout.name}-"


def virsh(*args: str, check: bool = True, timeout_s: float = 60) -> str:
    result = subprocess.run(
        ["virsh", "-q", "-c", LIBVIRT_URI, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if check and result.returncode != 0:
        raise HostError(f"virsh {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def _daemon_pid(name: str) -> int | None:
    return processes.read_live_pid(Path(f"/run/{name}.pid"), name)


def ensure_libvirtd(timeout_s: float = 30) -> None:
    """virtlogd and libvirtd running (started here, niced, if this host has no systemd)."""
    for name in DAEMONS:
        pid = _daemon_pid(name)
        if pid is not None:
            if (
                os.getpriority(os.PRIO_PROCESS, pid) < NICE
                and not Path("/run/systemd/system").is_dir()
            ):
                os.setpriority(os.PRIO_PROCESS, pid, NICE)
            continue
        if Path("/run/systemd/system").is_dir():
            raise HostError(f"{name} is not running: systemctl start {name}")
        subprocess.run(["nice", "-n", str(NICE), f"/usr/sbin/{name}", "--daemon"], check=True)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            virsh("version", timeout_s=10)
            return
        except (HostError, subprocess.TimeoutExpired):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _network_xml(name: str, bridge: str, network: ipaddress.IPv4Network, dhcp: bool) -> str:
    host = network.network_address + 1
    first, last = network.network_address + 100, network.network_address + 199
    dhcp_xml = f"<dhcp><range start='{first}' end='{last}'/></dhcp>" if dhcp else ""
    # No <forward>: isolated. DNS off: the guests resolve nothing through the host.
    return (
        f"<network><name>{name}</name><bridge name='{bridge}' stp='on' delay='0'/>"
        f"<dns enable='no'/><ip address='{host}' netmask='{network.netmask}'>{dhcp_xml}</ip>"
        "</network>"
    )


def _defined_networks() -> set[str]:
    return set(virsh("net-list", "--all", "--name").split())


def _active_networks() -> set[str]:
    return set(virsh("net-list", "--name").split())


def _check_address_free(network: ipaddress.IPv4Network, owner: str) -> None:
    """Refuse a network whose host address another interface (e.g. the simulated cluster's
    bridge of the same layout) already holds."""
    host = f"{network.network_address + 1}/"
    for line in subprocess.run(
        ["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=True
    ).stdout.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3].startswith(host) and fields[1] != owner:
            raise HostError(
                f"{network.network_address + 1} is already on {fields[1]} (the simulated cluster "
                "of this layout?): stop it, or set LENDSTREAM_VAGRANT_NETWORK to a free /24 "
                "inside 192.168.56.0/21"
            )


def ensure_networks(layout: Layout) -> None:
    private_name, management_name = network_names(layout)
    wanted = (
        (private_name, f"lsvg-{layout.name}"[:15], private_network(layout), False),
        (management_name, f"lsvg-{layout.name}"[:13] + "-m", management_network(layout), True),
    )
    defined = _defined_networks()
    for name, bridge, network, dhcp in wanted:
        if name not in defined:
            _check_address_free(network, bridge)
            xml = Path(f"/tmp/{name}.xml")
            xml.write_text(_network_xml(name, bridge, network, dhcp))
            try:
                virsh("net-define", str(xml))
            finally:
                xml.unlink()
        if name not in _active_networks():
            virsh("net-start", name)


def proxy_layout(layout: Layout) -> Layout:
    """The layout as the apt proxy sees it: its own name (own state and cache, never the
    simulated cluster's) and the private network's host address."""
    return dataclasses.replace(
        layout, name=f"vagrant-{layout.name}", network=private_network(layout)
    )


def apt_proxy_url(layout: Layout) -> str:
    return aptproxy.proxy_url(proxy_layout(layout))


def prepare(layout: Layout) -> None:
    """Everything `vagrant up` of this layout needs on the host; idempotent."""
    ensure_libvirtd()
    ensure_networks(layout)
    aptproxy.ensure_running(proxy_layout(layout))


def domains(layout: Layout) -> list[str]:
    return [
        d for d in virsh("list", "--all", "--name").split() if d.startswith(domain_prefix(layout))
    ]


def release(layout: Layout, remove_box_volume: bool = False) -> None:
    """Stop the apt proxy and remove the networks once no machine of the layout is left."""
    if domains(layout):
        return
    aptproxy.stop(proxy_layout(layout))
    defined = _defined_networks()
    for name in network_names(layout):
        if name in defined:
            virsh("net-destroy", name, check=False)
            virsh("net-undefine", name)
    if remove_box_volume:
        delete_box_volumes()


def delete_box_volumes() -> None:
    """vagrant-libvirt's copies of the lendstream box in libvirt's pools."""
    for pool, volume in _volumes():
        if volume.startswith(BOX_VOLUME_PREFIX):
            virsh("vol-delete", "--pool", pool, volume)


def _volumes() -> list[tuple[str, str]]:
    found = []
    for pool in virsh("pool-list", "--all", "--name").split():
        for line in virsh("vol-list", "--pool", pool, check=False).splitlines():
            if line.split():
                found.append((pool, line.split()[0]))
    return found


def leftovers(layout: Layout, include_box_volume: bool = True) -> list[str]:
    """What of this layout libvirt still holds: domains, volumes, networks, the proxy."""
    found = [f"domain {d}" for d in domains(layout)]
    prefixes = [domain_prefix(layout)] + ([BOX_VOLUME_PREFIX] if include_box_volume else [])
    found += [f"volume {p}/{v}" for p, v in _volumes() if v.startswith(tuple(prefixes))]
    defined = _defined_networks()
    found += [f"network {n}" for n in network_names(layout) if n in defined]
    if aptproxy.running_pid(proxy_layout(layout)) is not None:
        found.append("apt proxy")
    return found
