"""The attack suite's machinery on a scratch bridge (no nodes booted): a stand-in node namespace
with a plain and a TLS listener and an nftables drop rule, the probe namespace as the attacker.

- The bridge capture sees what crosses the bridge between two of its ports: an applicant value
  sent in clear (even split between two segments) is found under its port; the same value
  inside TLS is not.
- The attack clients run in the probe namespace and come back bounded: a dropped port is
  ``dropped`` within the connect timeout, a port with nothing behind it ``refused``.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lendstream import pki
from lendstream.attacks import capture, suite
from lendstream.attacks.clients import CONNECT_TIMEOUT_S, Outcome
from lendstream.cluster import Layout, Node, Size
from lendstream.vcluster.network import (
    bridge_name,
    check_network_is_free,
    delete_link,
    ensure_bridge,
)
from lendstream.vcluster.probe import probe_namespace

NETWORK = ipaddress.IPv4Network("192.168.57.0/24")
NODE_ADDRESS = ipaddress.IPv4Address("192.168.57.11")
NODE_NAMESPACE = "lendstream-attacktest-node"
NODE_VETH = "at-node"
TIMEOUT_S = 30
PLAIN_PORT = 9092
TLS_PORT = 8090
DROPPED_PORT = 2181
CLOSED_PORT = 6627
NEEDLE = "SYN-1764700000-4242"
# The stand-in node: a plain listener and a TLS one, each reading until the peer closes.
LISTENER = """
import selectors, socket, ssl, sys, threading
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
def serve(port, tls):
    server = socket.create_server((sys.argv[1], port))
    while True:
        connection = server.accept()[0]
        try:
            if tls:
                connection = context.wrap_socket(connection, server_side=True)
            while connection.recv(65536):
                pass
        except OSError:
            pass
        connection.close()
threading.Thread(target=serve, args=(PLAIN_PORT, False), daemon=True).start()
serve(TLS_PORT, True)
""".replace("PLAIN_PORT", str(PLAIN_PORT)).replace("TLS_PORT", str(TLS_PORT))
# The probe's sender: the needle in clear, split between two segments, then inside TLS.
SENDER = """
import socket, ssl, sys, time
host, needle = sys.argv[1], sys.argv[2].encode()
with socket.create_connection((host, PLAIN_PORT), timeout=5) as plain:
    plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    plain.sendall(b'{"member_id": "' + needle[:6])
    time.sleep(0.3)
    plain.sendall(needle[6:] + b'"}')
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
with socket.create_connection((host, TLS_PORT), timeout=5) as raw:
    with context.wrap_socket(raw) as tls:
        tls.sendall(b'{"member_id": "' + needle + b'"}')
""".replace("PLAIN_PORT", str(PLAIN_PORT)).replace("TLS_PORT", str(TLS_PORT))


def _layout() -> Layout:
    node = Node("n1", NODE_ADDRESS, ("workers",), Size(1024, 1), "lendstream.internal")
    return Layout("attacktest", "attack test", NETWORK, (node,), ())


def _run(*argv: str, stdin: str | None = None) -> None:
    subprocess.run(
        list(argv), input=stdin, text=True, check=True, capture_output=True, timeout=TIMEOUT_S
    )


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


@pytest.fixture(scope="module")
def scratch_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    """A bridge with a stand-in node at .11: plain listener on 9092, TLS on 8090, 2181 dropped
    by its nftables input chain, nothing on 6627."""
    layout = _layout()
    directory: Path = tmp_path_factory.mktemp("attack-pki")
    ca = pki.new_ca("attack test CA")
    host = pki.issue_host_certificate(ca, pki.HostNames("n1", ("n1", str(NODE_ADDRESS))))
    (directory / "node.crt").write_text(host.cert_pem)
    (directory / "node.key").write_text(host.key_pem)
    check_network_is_free(layout)
    ensure_bridge(layout)
    subprocess.run(["ip", "netns", "delete", NODE_NAMESPACE], capture_output=True, check=False)
    delete_link(NODE_VETH)
    _run("ip", "netns", "add", NODE_NAMESPACE)
    listener: subprocess.Popen[bytes] | None = None
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
            "table inet attacktest { chain input { type filter hook input priority filter; "
            f"policy accept; tcp dport {DROPPED_PORT} drop; }}; }}"
        )
        _run("ip", "netns", "exec", NODE_NAMESPACE, "nft", "-f", "-", stdin=ruleset)
        listener = subprocess.Popen(
            [
                *("ip", "netns", "exec", NODE_NAMESPACE, sys.executable, "-c", LISTENER),
                *(str(NODE_ADDRESS), str(directory / "node.crt"), str(directory / "node.key")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(PLAIN_PORT, TLS_PORT)
        yield layout
    finally:
        if listener is not None:
            listener.kill()
            listener.wait(timeout=TIMEOUT_S)
        delete_link(NODE_VETH)
        subprocess.run(["ip", "netns", "delete", NODE_NAMESPACE], capture_output=True, check=False)
        delete_link(bridge_name(layout))


def test_the_capture_finds_clear_text_applicant_values_and_not_tls_ones(
    scratch_node: Layout,
) -> None:
    services = {PLAIN_PORT: "plain", TLS_PORT: "tls"}
    with (
        probe_namespace(scratch_node) as probe,
        capture.BridgeCapture(
            bridge_name(scratch_node), [NEEDLE, "SYN-1764700000-9999"], services
        ) as capturing,
    ):
        _run(
            "ip",
            "netns",
            "exec",
            probe.namespace,
            sys.executable,
            "-c",
            SENDER,
            str(NODE_ADDRESS),
            NEEDLE,
        )
        time.sleep(0.5)
    result = capturing.result
    assert result is not None
    plain, tls = result.ports[PLAIN_PORT], result.ports[TLS_PORT]
    # Sent by the probe to the node: both are ports of the bridge, so it was forwarded, not local.
    assert plain.hits == 1, result  # once: the second segment, with the first one's tail
    assert NEEDLE in plain.first_hit, plain
    assert f"{probe.address}:" in plain.first_hit
    assert tls.payload_bytes > len(NEEDLE)
    assert tls.hits == 0, tls
    assert result.clear_text_ports() == [PLAIN_PORT]
    text = capture.table(result, services, [TLS_PORT])
    assert "none (TLS)" in text
    assert "YES: " + NEEDLE in text


def test_attacks_from_the_probe_come_back_bounded(scratch_node: Layout) -> None:
    node = str(NODE_ADDRESS)
    plan = [
        suite.Attack(
            "znode", "probe", "zookeeper-delete-znode", (node,), DROPPED_PORT, suite.FAILS
        ),
        suite.Attack("nimbus", "probe", "nimbus-cluster-info", (node,), CLOSED_PORT, suite.FAILS),
        suite.Attack("tls in clear", "probe", "plain-http", (node,), TLS_PORT, suite.FAILS),
    ]
    started = time.monotonic()
    with probe_namespace(scratch_node) as probe:
        findings = suite.run_in_probe(probe, plan)
    elapsed = time.monotonic() - started
    outcomes = [finding.outcome for finding in findings]
    assert outcomes == [Outcome.DROPPED, Outcome.REFUSED, Outcome.PLAINTEXT_REFUSED], findings
    assert all(finding.verdict == suite.PASS for finding in findings)
    # In parallel, each bounded by the connect timeout and the client's own.
    assert elapsed < 4 * CONNECT_TIMEOUT_S + 10, elapsed
