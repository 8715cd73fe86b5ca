"""A stranger on a layout's network: a network namespace on the host, attached to the layout's
bridge by a veth, with a free address of the layout's network (neither the host's .1 nor a
node's), so it is in no inventory and no firewall rule names it. What it can reach on the nodes is
what anyone on the cluster's network could reach: the seed of the attack suite (issue 11).

    with probe_namespace(layout) as probe:
        probe.connect("192.168.61.11", 6627)   # Reach.DROPPED behind the firewall

Needs root (ip netns, veth). Every connect is bounded in time.
"""

from __future__ import annotations

import argparse
import enum
import errno
import ipaddress
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from lendstream.cluster import Layout
from lendstream.vcluster.network import bridge_name, delete_link

CONNECT_TIMEOUT_S = 3.0
COMMAND_TIMEOUT_S = 30.0
PROBE_INTERFACE = "probe0"


class Reach(enum.Enum):
    OPEN = "open"  # the connection opened
    REFUSED = "refused"  # a reset: the port is reachable but nothing listens, or a reject rule
    DROPPED = "dropped"  # no answer within the timeout: a drop rule (or no such host)


def connect(address: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S) -> Reach:
    """One TCP connect from this process's network namespace."""
    try:
        with socket.create_connection((address, port), timeout=timeout_s):
            return Reach.OPEN
    except ConnectionRefusedError:
        return Reach.REFUSED
    except TimeoutError:
        return Reach.DROPPED
    except OSError as error:
        if error.errno == errno.EHOSTUNREACH:  # no answer to ARP: nothing at that address
            return Reach.DROPPED
        raise


def free_address(layout: Layout) -> ipaddress.IPv4Address:
    """The highest address of the layout's network that is neither the host's nor a node's."""
    taken = {layout.host_address, *(node.address for node in layout.nodes)}
    for candidate in reversed(list(layout.network.hosts())):
        if candidate not in taken:
            return candidate
    raise RuntimeError(f"layout {layout.name}: no free address in {layout.network}")


def namespace_name(layout: Layout) -> str:
    return f"lendstream-probe-{layout.name}"


def host_veth_name(layout: Layout) -> str:
    """The host side of the probe's veth (fits IFNAMSIZ for our layout names)."""
    return f"pb-{layout.name}"[:15]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=COMMAND_TIMEOUT_S)


@dataclass(frozen=True)
class Probe:
    layout: Layout
    namespace: str
    address: ipaddress.IPv4Address

    def connect(self, address: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S) -> Reach:
        """A TCP connect from the probe's namespace (this module run there)."""
        result = subprocess.run(
            [
                *("ip", "netns", "exec", self.namespace),
                *(sys.executable, "-m", "lendstream.vcluster.probe"),
                *(address, str(port), "--timeout", str(timeout_s)),
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s + COMMAND_TIMEOUT_S,
            check=True,
        )
        return Reach(result.stdout.strip())


@contextmanager
def probe_namespace(layout: Layout) -> Iterator[Probe]:
    """The probe, attached to the layout's bridge for the block; removed afterwards."""
    namespace = namespace_name(layout)
    veth = host_veth_name(layout)
    address = free_address(layout)
    # Leftovers of an interrupted run.
    delete_link(veth)
    subprocess.run(["ip", "netns", "delete", namespace], capture_output=True, check=False)
    _ip("netns", "add", namespace)
    try:
        _ip(
            "link", "add", veth, "type", "veth", "peer", "name", PROBE_INTERFACE, "netns", namespace
        )
        _ip("link", "set", veth, "master", bridge_name(layout))
        _ip("link", "set", veth, "up")
        _ip(
            "-n",
            namespace,
            "addr",
            "add",
            f"{address}/{layout.network.prefixlen}",
            "dev",
            PROBE_INTERFACE,
        )
        _ip("-n", namespace, "link", "set", PROBE_INTERFACE, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        yield Probe(layout, namespace, address)
    finally:
        delete_link(veth)
        subprocess.run(["ip", "netns", "delete", namespace], capture_output=True, check=False)


def main(argv: list[str] | None = None) -> None:
    """`python -m lendstream.vcluster.probe ADDRESS PORT`: prints open, refused or dropped."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("address")
    parser.add_argument("port", type=int)
    parser.add_argument("--timeout", type=float, default=CONNECT_TIMEOUT_S)
    arguments = parser.parse_args(argv)
    print(connect(arguments.address, arguments.port, arguments.timeout).value)


if __name__ == "__main__":
    main()
