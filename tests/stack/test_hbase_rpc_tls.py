"""HBase RPC over TLS, from the hbase role: a real master, RegionServer and Thrift server on
loopback (rendered by render-hbase-rpc-tls.yml with the role's own tasks), certificates from a
test CA made by lendstream.pki.

A fresh render with hbase_rpc_tls_enabled goes straight to phase 3 (TLS only, mutual): the
keystore is 0640, and hbase-site.xml turns TLS on for servers and clients with plaintext refused.
Then the daemons start and everything HBase does goes through TLS RPC: the Thrift server (the
save bolts' gateway, an RPC client) creates a table through the master and writes and reads a
row on the RegionServer; the RegionServer registers with the master and opens hbase:meta. The
attack suite's plaintext HBase RPC client is hung up on by both the RegionServer and the master.
Last, turning TLS off on this running configuration takes one step back only (phase 2: servers
accept both, clients still TLS), as the role's phases promise a running cluster."""

from __future__ import annotations

import grp
import os
import stat
import time
from contextlib import ExitStack
from pathlib import Path

import happybase
import pytest
from local_processes import clean_environment, free_port, running, tail
from render_playbook import run_render_playbook

from lendstream import pki
from lendstream.attacks import clients
from lendstream.attacks.clients import Outcome
from lendstream.stack.artifacts.bundles import bundle_path

pytestmark = pytest.mark.stack

RENDER_PLAYBOOK = Path(__file__).with_name("render-hbase-rpc-tls.yml")
PLAYBOOK_TIMEOUT_S = 180.0
START_TIMEOUT_S = 240.0
HOST = "127.0.0.1"
MARKERS = {
    "server": "<name>hbase.server.netty.tls.enabled</name><value>true</value>",
    "plaintext": "<name>hbase.server.netty.tls.supportplaintext</name><value>true</value>",
    "client": "<name>hbase.client.netty.tls.enabled</name><value>true</value>",
}


def _certificates(render_dir: Path) -> None:
    ca = pki.new_ca("lendstream HBase RPC test CA")
    directory = render_dir / "pki"
    directory.mkdir(parents=True)
    issued = pki.issue_host_certificate(ca, pki.HostNames("localhost", ("localhost",), (HOST,)))
    (directory / "ca.crt").write_text(ca.cert_pem)
    (directory / "node.crt").write_text(issued.cert_pem)
    (directory / "node.key").write_text(issued.key_pem)
    (directory / "node.key").chmod(0o600)


def _render(render_dir: Path, ports: dict[str, int], rpc_tls: bool) -> str:
    """Render with the role's tasks; hbase-site.xml's text."""
    extra = {
        "render_dir": str(render_dir),
        "zookeeper_bundle": str(bundle_path("zookeeper")),
        "hbase_bundle": str(bundle_path("hbase")),
        "group": grp.getgrgid(os.getgid()).gr_name,
        "rpc_tls": rpc_tls,
        "ports": ports,
    }
    run_render_playbook(RENDER_PLAYBOOK, extra, timeout_s=PLAYBOOK_TIMEOUT_S, inventory=f"{HOST},")
    return (render_dir / "hbase/conf/hbase-site.xml").read_text()


def _phase_markers(site: str) -> set[str]:
    return {name for name, line in MARKERS.items() if line in site}


def _write_and_read_through_thrift(port: int, deadline: float, logs: list[Path]) -> bytes:
    """Create a table and put and get a row through the Thrift server, retried until the
    cluster serves or the deadline passes."""
    last = ""
    while time.monotonic() < deadline:
        try:
            connection = happybase.Connection(HOST, port, timeout=20_000, autoconnect=False)
            connection.open()
            try:
                if b"tls_check" not in connection.tables():
                    connection.create_table("tls_check", {"f": {}})
                table = connection.table("tls_check")
                table.put(b"row-1", {b"f:member": b"member-42"})
                return bytes(table.row(b"row-1")[b"f:member"])
            finally:
                connection.close()
        except Exception as error:  # not serving yet: Thrift down, master initialising, ...
            last = f"{type(error).__name__}: {error}"
            time.sleep(3)
    logs_tail = "\n".join(f"--- {log.name}\n{tail(log)}" for log in logs)
    pytest.fail(f"HBase did not serve a write through Thrift over TLS RPC: {last}\n{logs_tail}")


def test_hbase_rpc_speaks_tls_only_and_steps_back_one_phase(tmp_path: Path) -> None:
    render_dir = tmp_path / "render"
    _certificates(render_dir)
    ports = {
        name: free_port()
        for name in (
            "zookeeper",
            "master",
            "master_info",
            "regionserver",
            "regionserver_info",
            "thrift",
            "thrift_info",
        )
    }
    site = _render(render_dir, ports, rpc_tls=True)
    assert _phase_markers(site) == {"server", "client"}  # phase 3: TLS only
    assert "<name>hbase.server.netty.tls.supportplaintext</name><value>false</value>" in site
    keystore = render_dir / "hbase/conf/tls/keystore.pem"
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o640
    key_and_cert = keystore.read_text()
    assert key_and_cert.index("PRIVATE KEY") < key_and_cert.index("CERTIFICATE")

    environment = clean_environment({})
    hbase_dir = render_dir / "hbase"
    logs = {
        daemon: tmp_path / f"{daemon}.log"
        for daemon in ("zookeeper", "master", "regionserver", "thrift")
    }
    with ExitStack() as stack:
        stack.enter_context(
            running(
                [str(render_dir / "zookeeper/bin/zookeeper-server")],
                logs["zookeeper"],
                env=environment,
                cwd=render_dir / "zookeeper",
            )
        )
        for daemon in ("master", "regionserver", "thrift"):
            stack.enter_context(
                running(
                    [str(hbase_dir / f"bin/hbase-{daemon}")],
                    logs[daemon],
                    env=environment,
                    cwd=hbase_dir,
                )
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        value = _write_and_read_through_thrift(ports["thrift"], deadline, list(logs.values()))
        assert value == b"member-42"
        for daemon in ("regionserver", "master"):
            outcome, detail = clients.hbase_rpc_plaintext([HOST], ports[daemon], {"daemon": daemon})
            assert outcome == Outcome.PLAINTEXT_REFUSED, f"{daemon}: {detail}"

    # From TLS only, turning it off is one rolling step back: servers accept both again, clients
    # keep TLS until every server does.
    site = _render(render_dir, ports, rpc_tls=False)
    assert _phase_markers(site) == {"server", "plaintext", "client"}  # phase 2
