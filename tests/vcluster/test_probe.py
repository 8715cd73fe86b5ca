"""The probe namespace on a scratch layout's bridge (no nodes booted): it takes a free address,
reaches a listener on the bridge, and tells an open port from a refused and a dropped one (an
nftables drop rule in a stand-in node's namespace)."""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from lendstream.cluster import Layout, Node, Size
from lendstream.vcluster.network import (
    bridge_name,
    check_network_is_free,
    delete_link,
    ensure_bridge,
)
from lendstream.vcluster.probe import Reach, free_address, probe_namespace

NETWORK = ipaddress.IPv4Network("192.168.63.0/24")
NODE_ADDRESS = ipaddress.IPv4Address("192.168.63.11")
NODE_NAMESPACE = "lendstream-probetest-node"
NODE_VETH = "pt-node"
TIMEOUT_S = 30
# The stand-in node's daemons: listeners on 2181 and 6627 that accept and close.
LISTENER = f"""
import selectors, socket
selector = selectors.DefaultSelector()
for port in (2181, 6627):
    server = socket.create_server(("{NODE_ADDRESS}", port))
    selector.register(server, selectors.EVENT_READ)
while True:
    for key, _ in selector.select():
        key.fileobj.accept()[0].close()
"""


def _layout(nodes: tuple[Node, ...] = ()) -> Layout:
    return Layout("probetest", "probe test", NETWORK, nodes, ())


def _node(address: ipaddress.IPv4Address) -> Node:
    return Node("n1", address, ("workers",), Size(1024, 1), "lendstream.internal")


def _run(*argv: str) -> None:
    subprocess.run(list(argv), check=True, capture_output=True, timeout=TIMEOUT_S)


def _wait_listening(*ports: int) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        listening = subprocess.run(
            ["ip", "netns", "exec", NODE_NAMESPACE, "ss", "-Hltn"],
            capture_output=True,
            text=True,
            check=True,
            timeout=TIMEOUT_S,
        ).stdout
        if all(f"{NODE_ADDRESS}:{port} " in listening for port in ports):
            return
        time.sleep(0.2)
    raise AssertionError(f"the stand-in node does not listen on {ports} after {TIMEOUT_S} s")


def test_free_address_is_neither_the_hosts_nor_a_nodes() -> None:
    layout = _layout((_node(ipaddress.IPv4Address("192.168.63.254")),))
    assert free_address(layout) == ipaddress.IPv4Address("192.168.63.253")
    assert free_address(_layout()) == ipaddress.IPv4Address("192.168.63.254")


@pytest.fixture
def scratch_node() -> Iterator[Layout]:
    """A bridge with a stand-in node: a namespace at .11 listening on 2181 and 6627, whose
    nftables input chain drops 6627 and accepts the rest."""
    layout = _layout((_node(NODE_ADDRESS),))
    check_network_is_free(layout)
    ensure_bridge(layout)
    subprocess.run(["ip", "netns", "delete", NODE_NAMESPACE], capture_output=True, check=False)
    delete_link(NODE_VETH)
    _run("ip", "netns", "add", NODE_NAMESPACE)
    listeners: list[subprocess.Popen[bytes]] = []
    try:
        _run(
            "ip",
            "link",
            "add",
            NODE_VETH,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            NODE_NAMESPACE,
        )
        _run("ip", "link", "set", NODE_VETH, "master", bridge_name(layout))
        _run("ip", "link", "set", NODE_VETH, "up")
        _run("ip", "-n", NODE_NAMESPACE, "addr", "add", f"{NODE_ADDRESS}/24", "dev", "eth0")
        _run("ip", "-n", NODE_NAMESPACE, "link", "set", "eth0", "up")
        ruleset = (
            "table inet probetest { chain input { type filter hook input priority filter; "
            "policy accept; tcp dport 6627 drop; }; }"
        )
        subprocess.run(
            ["ip", "netns", "exec", NODE_NAMESPACE, "nft", "-f", "-"],
            input=ruleset.encode(),
            check=True,
            capture_output=True,
            timeout=TIMEOUT_S,
        )
        listeners.append(
            subprocess.Popen(
                ["ip", "netns", "exec", NODE_NAMESPACE, sys.executable, "-c", LISTENER],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _wait_listening(2181, 6627)
        yield layout
    finally:
        for listener in listeners:
            listener.kill()
            listener.wait(timeout=TIMEOUT_S)
        delete_link(NODE_VETH)
        subprocess.run(["ip", "netns", "delete", NODE_NAMESPACE], capture_output=True, check=False)
        delete_link(bridge_name(layout))


def test_probe_tells_open_refused_and_dropped_apart(scratch_node: Layout) -> None:
    with probe_namespace(scratch_node) as probe:
        assert probe.address == ipaddress.IPv4Address("192.168.63.254")
        node = str(NODE_ADDRESS)
        assert probe.connect(node, 2181) is Reach.OPEN
        assert probe.connect(node, 2182) is Reach.REFUSED
        assert probe.connect(node, 6627, timeout_s=2) is Reach.DROPPED
    # Gone afterwards: the namespace and the host side of its veth.
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    assert "lendstream-probe-probetest" not in namespaces.stdout
    with pytest.raises(OSError, match="no interface"):
        socket.if_nametoindex("pb-probetest")
