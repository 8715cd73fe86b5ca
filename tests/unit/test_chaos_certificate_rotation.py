"""The certificate-rotation fault: it runs playbooks/rotate-certificates.yml and fails unless every
node got a new certificate, every TLS service serves it, and nothing was refused meanwhile. The
cluster is a recording stand-in here (the fault's run on the ci cluster is in docs/security.md);
the certificates are real ones from a test CA, and the script that reads what a port serves runs
against a real TLS server."""

from __future__ import annotations

import json
import shlex
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from lendstream import pki
from lendstream.chaos import faults
from lendstream.chaos.cluster import ChaosCluster, ChaosError

HOSTS = ("m1", "m2", "m3")
ADDRESSES = {"m1": "192.168.61.11", "m2": "192.168.61.12", "m3": "192.168.61.13"}
ROTATION = "playbooks/rotate-certificates.yml"


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.new_ca("lendstream test CA")


def _issue(ca: pki.Issued, host: str) -> str:
    return pki.issue_host_certificate(ca, pki.HostNames(host, (host,))).cert_pem


@dataclass
class RotatingCluster:
    """The ci layout's groups; node.crt and what each TLS port serves per node. The rotation
    playbook gives each node a new certificate, except on ``keep`` hosts, and each port serves
    it, except the ``stale`` endpoints."""

    ca: pki.Issued
    keep: set[str] = field(default_factory=set)
    # Nodes that run none of the TLS services read (a montana master such as m1 there).
    bare: set[str] = field(default_factory=set)
    stale: set[str] = field(default_factory=set)
    playbook_error: str = ""
    producer_restarts_during: int = 0
    files: dict[str, str] = field(default_factory=dict)
    served: dict[str, str] = field(default_factory=dict)
    playbooks: list[str] = field(default_factory=list)
    producer_restarts: int = 0

    def __post_init__(self) -> None:
        for host in HOSTS:
            self.files[host] = _issue(self.ca, host)
            for endpoint in self.endpoints(host):
                self.served[endpoint] = self.files[host]

    def endpoints(self, host: str) -> list[str]:
        return faults.tls_endpoints(cast("ChaosCluster", self))[host]

    @property
    def node_names(self) -> tuple[str, ...]:
        return HOSTS

    def hosts(self, group: str) -> tuple[str, ...]:
        single = {"applicant_api", "mysql", "producer"}
        return ("m3",) if group in single else tuple(h for h in HOSTS if h not in self.bare)

    def address(self, host: str) -> str:
        return ADDRESSES[host]

    def sh(self, host: str, command: str, timeout_s: float = 60, check: bool = True) -> str:
        if command == f"cat {faults.NODE_CERTIFICATE}":
            return self.files[host]
        argv = shlex.split(command)
        assert host not in self.bare, f"{host} has nothing to read: {command}"
        assert argv[:2] == [faults.NODE_PYTHON, "-c"], command
        assert argv[2] == faults._served_certificates_script()
        return json.dumps({endpoint: self.served.get(endpoint) for endpoint in argv[3:]})

    def unit_restarts(self, host: str, unit: str) -> int:
        assert (host, unit) == ("m3", "lendstream-producer")
        return self.producer_restarts

    def playbook(self, name: str, *extra: str, timeout_s: float = 0) -> str:
        self.playbooks.append(name)
        if self.playbook_error:
            raise ChaosError(f"{name} failed:\n{self.playbook_error}")
        for host in HOSTS:
            if host in self.keep:
                continue
            self.files[host] = _issue(self.ca, host)
            for endpoint in self.endpoints(host):
                if endpoint not in self.stale:
                    self.served[endpoint] = self.files[host]
        self.producer_restarts += self.producer_restarts_during
        return "ok"


@pytest.fixture
def counters(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """The fault's refusal counters, read before and after the rotation (in that order)."""
    readings: dict[str, list[int]] = {"api": [0, 0], "kafka": [0], "scoring": [0, 0]}
    monkeypatch.setattr(faults, "failed_api_requests", lambda _c: readings["api"].pop(0))
    monkeypatch.setattr(faults, "refused_requests", lambda _c: readings["scoring"].pop(0))
    monkeypatch.setattr(
        faults, "kafka_failed_authentications", lambda _c, _since: readings["kafka"].pop(0)
    )
    return readings


def _inject(cluster: RotatingCluster) -> dict[str, Any]:
    (fault,) = faults.by_name(["certificate-rotation"])
    state: dict[str, Any] = {}
    fault.inject(cast("ChaosCluster", cluster), state)
    return state


def test_a_full_rotation_passes_and_says_what_it_renewed(
    ca: pki.Issued, counters: dict[str, list[int]]
) -> None:
    cluster = RotatingCluster(ca)
    state = _inject(cluster)
    assert cluster.playbooks == [ROTATION]
    assert state["nodes_renewed"] == len(HOSTS)
    assert (state["failed_requests"], state["failed_authentications"]) == (0, 0)
    assert state["refused_scoring_requests"] == 0
    assert state["producer_failures"] == 0
    assert isinstance(state["rotation_s"], int)


def test_the_endpoints_are_each_nodes_tls_services() -> None:
    cluster = RotatingCluster(pki.new_ca("endpoints"))
    endpoints = faults.tls_endpoints(cast("ChaosCluster", cluster))
    assert endpoints["m3"] == ["192.168.61.13:8081", "192.168.61.13:8090", "192.168.61.13:9092"]
    assert endpoints["m1"] == ["192.168.61.11:8090", "192.168.61.11:9092"]


def test_a_node_without_tls_services_is_checked_by_its_certificate_file_alone(
    ca: pki.Issued, counters: dict[str, list[int]]
) -> None:
    cluster = RotatingCluster(ca, bare={"m1"})
    assert faults.tls_endpoints(cast("ChaosCluster", cluster))["m1"] == []
    assert _inject(cluster)["nodes_renewed"] == len(HOSTS)


def test_a_node_that_kept_its_certificate_fails_the_fault(
    ca: pki.Issued, counters: dict[str, list[int]]
) -> None:
    cluster = RotatingCluster(ca, keep={"m2"})
    with pytest.raises(ChaosError, match=r"^m2: node\.crt kept serial [0-9a-f]+$"):
        _inject(cluster)


def test_a_service_still_serving_the_old_certificate_fails_the_fault(
    ca: pki.Issued, counters: dict[str, list[int]]
) -> None:
    cluster = RotatingCluster(ca, stale={"192.168.61.11:8090"})
    with pytest.raises(ChaosError, match=r"m1: 192\.168\.61\.11:8090 serves serial"):
        _inject(cluster)


def test_refused_requests_or_a_producer_failure_fail_the_fault(
    ca: pki.Issued, counters: dict[str, list[int]]
) -> None:
    counters["api"] = [4, 6]
    counters["kafka"] = [1]
    counters["scoring"] = [7, 10]
    cluster = RotatingCluster(ca, producer_restarts_during=1)
    with pytest.raises(ChaosError) as failure:
        _inject(cluster)
    assert str(failure.value) == (
        "1 Kafka sign-ins or TLS handshakes refused, 2 failed API requests, 3 scoring requests"
        " refused, 1 producer failures during the rotation"
    )


@pytest.mark.parametrize("counter", ["api", "kafka", "scoring"])
def test_each_refusal_alone_fails_the_fault(
    ca: pki.Issued, counters: dict[str, list[int]], counter: str
) -> None:
    counters[counter] = [0, 1] if len(counters[counter]) == 2 else [1]
    with pytest.raises(ChaosError, match=r"during the rotation$"):
        _inject(RotatingCluster(ca))


def test_the_playbooks_failure_is_the_faults(
    ca: pki.Issued, counters: dict[str, list[int]]
) -> None:
    cluster = RotatingCluster(ca, playbook_error="m2: Kafka health gate timed out")
    with pytest.raises(ChaosError, match=r"rotate-certificates\.yml failed"):
        _inject(cluster)


@pytest.fixture
def tls_server(ca: pki.Issued, tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A real TLS listener on loopback serving a certificate of the test CA; its port and PEM."""
    issued = pki.issue_host_certificate(ca, pki.HostNames("localhost", ("localhost",)))
    (tmp_path / "node.crt").write_text(issued.cert_pem)
    (tmp_path / "node.key").write_text(issued.key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "node.crt", tmp_path / "node.key")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)
    port = listener.getsockname()[1]

    def serve_one() -> None:
        try:
            connection, _ = listener.accept()
            with context.wrap_socket(connection, server_side=True) as tls:
                tls.recv(1)
        except OSError:
            pass

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    yield port, issued.cert_pem
    listener.close()
    thread.join(timeout=5)


def test_the_node_script_reads_what_a_port_serves_and_none_where_nothing_does(
    tls_server: tuple[int, str],
) -> None:
    port, cert_pem = tls_server
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    targets = [f"127.0.0.1:{port}", f"127.0.0.1:{closed_port}"]
    result = subprocess.run(
        [sys.executable, "-c", faults._served_certificates_script(), *targets],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    served = json.loads(result.stdout)
    assert served[targets[1]] is None
    read = pki.load_certificate(served[targets[0]])
    assert read.serial_number == pki.load_certificate(cert_pem).serial_number
