"""The layout's bridge on the host: the nodes' network, with the host at .1.

The host does not forward, so nodes reach only each other and the host's bridge address (where
the apt proxy listens); nothing leaves the machine.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from typing import Any

from lendstream.cluster import Layout

BRIDGE_PREFIX = "lsvc-"


def bridge_name(layout: Layout) -> str:
    name = BRIDGE_PREFIX + layout.name
    if len(name) > 15:
        raise ValueError(f"bridge name {name!r} is longer than 15 characters")
    return name


def _ip_json(*args: str) -> list[dict[str, Any]]:
    output = subprocess.run(["ip", "-j", *args], check=True, capture_output=True, text=True)
    return json.loads(output.stdout or "[]")


def link_exists(name: str) -> bool:
    return (
        subprocess.run(
            ["ip", "link", "show", "dev", name], capture_output=True, check=False
        ).returncode
        == 0
    )


def check_network_is_free(layout: Layout) -> None:
    """Refuse a layout network that overlaps an address on another interface of the host."""
    ours = bridge_name(layout)
    for link in _ip_json("-4", "addr", "show"):
        if link.get("ifname") == ours:
            continue
        for info in link.get("addr_info", []):
            network = ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False)
            if network.overlaps(layout.network):
                raise RuntimeError(
                    f"layout {layout.name} network {layout.network} overlaps {network} on "
                    f"{link.get('ifname')}: choose another network in cluster.yml"
                )


def ensure_bridge(layout: Layout) -> str:
    name = bridge_name(layout)
    address = f"{layout.host_address}/{layout.network.prefixlen}"
    if not link_exists(name):
        subprocess.run(["ip", "link", "add", "name", name, "type", "bridge"], check=True)
    # Exactly one address: a stale one from an earlier run answers "connection refused".
    current = [
        f"{info['local']}/{info['prefixlen']}"
        for link in _ip_json("-4", "addr", "show", "dev", name)
        for info in link.get("addr_info", [])
    ]
    if current != [address]:
        subprocess.run(["ip", "-4", "addr", "flush", "dev", name], check=True)
        subprocess.run(["ip", "addr", "add", address, "dev", name], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    return name


def delete_link(name: str) -> None:
    """Delete the link if it is there (it may vanish meanwhile: callers check link_exists)."""
    if link_exists(name):
        subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False)


def detach_from_bridge(link: str) -> None:
    """Cut a node off the network: its veth leaves the bridge, the link itself stays up (so the
    node keeps its address and routes, as on a switch port that stops forwarding)."""
    subprocess.run(["ip", "link", "set", link, "nomaster"], check=True)


def attach_to_bridge(link: str, bridge: str) -> None:
    subprocess.run(["ip", "link", "set", link, "master", bridge], check=True)
