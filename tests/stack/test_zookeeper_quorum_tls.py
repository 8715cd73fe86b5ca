"""ZooKeeper's quorum and client port over TLS, from the zookeeper role: a real three-member
ensemble on loopback (members 127.0.0.1-3, rendered by render-zookeeper-quorum.yml with the role's
own tasks).

The ensemble first runs plaintext, and a plaintext peer's opening on a member's election port is
read (the probe can tell). With zookeeper_quorum_tls_enabled each render takes one step (the
role's phases: port unification with plaintext out, then with TLS out, then TLS only), each
followed by a rolling restart, the leader last, every member serving in between. At the end:
sslQuorum=true without port unification, every election port and the leader's quorum port hang
up on a plaintext opening (the attack suite's client), a member started with a plaintext
zoo.cfg never joins while the other two keep serving, and the three form a fresh quorum over TLS.
Then back to plaintext the same way, in reverse.

The client port moves in the same renders (zookeeper_client_tls_enabled beside the quorum's
switch; the role's phases: port unification, the same with the clients on TLS, TLS only): a
plaintext client's session request is answered before and refused at the end, where a TLS
client without a certificate is refused too; the members' modes are read over mutual TLS with
a member's certificate (lendstream.zookeeper_words, as the health gate does) in every phase.

Loopback trap: a member's outgoing connections leave from 127.0.0.1 whatever its own address,
and ZooKeeper checks a quorum client's certificate against its source address, so every test
certificate names 127.0.0.1 besides the member's own address (on the cluster each member's
certificate names its cluster address, the one its connections leave from)."""

from __future__ import annotations

import grp
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from local_processes import free_port, spawn, stop, tail

from lendstream import pki
from lendstream.attacks import clients
from lendstream.attacks.clients import Outcome
from lendstream.chaos.cluster import ansible_environment, run_ansible
from lendstream.stack.artifacts.bundles import bundle_path
from lendstream.zookeeper_words import ClientTls, four_letter_word, srvr_mode

pytestmark = pytest.mark.stack

RENDER_PLAYBOOK = Path(__file__).with_name("render-zookeeper-quorum.yml")
PLAYBOOK_TIMEOUT_S = 180.0
SERVE_TIMEOUT_S = 90.0
NOT_JOINING_S = 20.0  # how long a plaintext member is watched not joining (a TLS one joins in ~3 s)
MEMBERS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
TLS_LINES = ("sslQuorum=", "portUnification=", "ssl.quorum.")
CLIENT_PHASE_LINES = ("clientPort=", "secureClientPort=", "client.portUnification=")


def _certificates(render_dir: Path) -> None:
    ca = pki.new_ca("lendstream ZooKeeper quorum test CA")
    (render_dir / "ca.crt").write_text(ca.cert_pem)
    for member in MEMBERS:
        addresses = tuple(dict.fromkeys((member, "127.0.0.1")))
        issued = pki.issue_host_certificate(ca, pki.HostNames(member, (), addresses))
        directory = render_dir / member / "pki"
        directory.mkdir(parents=True)
        (directory / "node.crt").write_text(issued.cert_pem)
        (directory / "node.key").write_text(issued.key_pem)
        (directory / "node.key").chmod(0o600)


def _render(render_dir: Path, ports: dict[str, int], quorum_tls: bool) -> None:
    """One render, both switches alike (quorum and client port move together)."""
    extra = {
        "servers": [{"id": index, "host": member} for index, member in enumerate(MEMBERS, 1)],
        "render_dir": str(render_dir),
        "bundle_dir": str(bundle_path("zookeeper")),
        "group": grp.getgrgid(os.getgid()).gr_name,
        "quorum_tls": quorum_tls,
        "client_tls": quorum_tls,
        "ports": ports,
    }
    argv = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        ",".join(MEMBERS) + ",",
        "-e",
        json.dumps(extra),
        str(RENDER_PLAYBOOK),
    ]
    result = run_ansible(argv, ansible_environment(None), PLAYBOOK_TIMEOUT_S)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


CLIENT_TLS: list[ClientTls] = []  # the first member's certificate, once the test made it


def _mode(member: str, port: int) -> str:
    """The member's Mode from srvr on its client port (over mutual TLS with a member's
    certificate, else in plaintext: every client TLS phase); "none" when it does not serve."""
    tls = CLIENT_TLS[0] if CLIENT_TLS else None
    return srvr_mode(four_letter_word(member, port, "srvr", 3.0, tls)) or "none"


def _modes(port: int) -> dict[str, str]:
    return {member: _mode(member, port) for member in MEMBERS}


def _client_tls_settings(render_dir: Path, member: str) -> list[str]:
    text = (render_dir / member / "conf" / "zoo.cfg").read_text()
    return [line for line in text.splitlines() if line.startswith(CLIENT_PHASE_LINES)]


def _assert_client_port(members: tuple[str, ...], port: int, ca_file: str, tls: bool) -> None:
    """TLS only and mutual (``tls``): a plaintext session request and a TLS client without a
    certificate are refused, srvr answers over the member's certificate only; else a plaintext
    session request is answered."""
    plaintext = clients.zookeeper_client_plaintext(list(members), port, {})
    if not tls:
        assert plaintext[0] == Outcome.SUCCEEDED, plaintext
        return
    assert plaintext[0] == Outcome.PLAINTEXT_REFUSED, plaintext
    anonymous = clients.zookeeper_delete_znode(list(members), port, {"ca_file": ca_file})
    assert anonymous[0] == Outcome.DENIED, anonymous
    assert _mode(members[0], port) in {"leader", "follower"}
    assert four_letter_word(members[0], port, "srvr", 3.0) is None  # plaintext: no answer


def _assert_phase(
    render_dir: Path, phase: int, quorum: list[str], client: list[str], noted: bool
) -> None:
    """Every member's zoo.cfg has these quorum and client-port lines; with ``noted`` the phase
    file beside it names ``phase``."""
    for member in MEMBERS:
        assert _quorum_tls_settings(render_dir, member) == quorum, (phase, member)
        assert _client_tls_settings(render_dir, member) == client, (phase, member)
        if noted:
            text = (render_dir / member / "conf" / "client-tls-phase").read_text()
            assert text.splitlines()[-1] == str(phase), (phase, member)


def _quorum_tls_settings(render_dir: Path, member: str) -> list[str]:
    text = (render_dir / member / "conf" / "zoo.cfg").read_text()
    phase_lines = ("sslQuorum=", "portUnification=")
    return [line for line in text.splitlines() if line.startswith(phase_lines)]


class Ensemble:
    """The three members' processes, started from their launchers."""

    def __init__(self, render_dir: Path, client_port: int) -> None:
        self.render_dir = render_dir
        self.client_port = client_port
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def log(self, member: str) -> Path:
        return self.render_dir / member / "console.log"

    def start(self, member: str) -> None:
        launcher = self.render_dir / member / "bin" / "zookeeper-server"
        self.processes[member] = spawn([str(launcher)], self.log(member))

    def stop(self, member: str) -> None:
        stop(self.processes.pop(member))

    def stop_all(self) -> None:
        for member in list(self.processes):
            self.stop(member)

    def wait_serving(self, what: str, members: tuple[str, ...] = MEMBERS) -> dict[str, str]:
        """Until ``members`` serve with exactly one leader among them; their modes."""
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        while True:
            modes = {member: _mode(member, self.client_port) for member in members}
            serving = all(mode in {"leader", "follower"} for mode in modes.values())
            if serving and list(modes.values()).count("leader") == 1:
                return modes
            for member, process in self.processes.items():
                if process.poll() is not None:
                    raise AssertionError(f"{what}: {member} exited\n{tail(self.log(member))}")
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {m}\n{tail(self.log(m), 1500)}" for m in members)
                raise AssertionError(f"{what}: {modes} after {SERVE_TIMEOUT_S:.0f} s\n{logs}")
            time.sleep(0.5)

    def rolling_restart(self, what: str) -> None:
        """One member at a time, the leader last, the whole ensemble serving before the next."""
        modes = self.wait_serving(f"{what}: before")
        for member in sorted(MEMBERS, key=lambda name: modes[name] == "leader"):
            self.stop(member)
            self.start(member)
            self.wait_serving(f"{what}: after restarting {member}")


def _plaintext_member_stays_out(ensemble: Ensemble, render_dir: Path, client: int) -> None:
    """A member that speaks plaintext to the others never joins; the other two serve on."""
    config = render_dir / MEMBERS[2] / "conf" / "zoo.cfg"
    tls_config = config.read_text()
    plaintext = [line for line in tls_config.splitlines() if not line.startswith(TLS_LINES)]
    ensemble.stop(MEMBERS[2])
    config.write_text("\n".join(plaintext) + "\n")
    ensemble.start(MEMBERS[2])
    deadline = time.monotonic() + NOT_JOINING_S
    while time.monotonic() < deadline:
        assert _mode(MEMBERS[2], client) == "none", "a plaintext member joined"
        time.sleep(1.0)
    ensemble.wait_serving("the two TLS members", MEMBERS[:2])
    logs = tail(ensemble.log(MEMBERS[0]), 200_000) + tail(ensemble.log(MEMBERS[1]), 200_000)
    assert "SSL" in logs
    ensemble.stop(MEMBERS[2])
    config.write_text(tls_config)


def _plaintext_opening(members: tuple[str, ...], port: int) -> tuple[str, str]:
    return clients.zookeeper_quorum_plaintext(list(members), port, {})


def test_quorum_moves_to_tls_rolling_and_refuses_plaintext_peers(tmp_path: Path) -> None:
    render_dir = tmp_path / "zookeeper"
    render_dir.mkdir()
    _certificates(render_dir)
    pki_dir = render_dir / MEMBERS[0] / "pki"
    CLIENT_TLS[:] = [
        ClientTls(str(render_dir / "ca.crt"), str(pki_dir / "node.crt"), str(pki_dir / "node.key"))
    ]
    ports = {"client": free_port(), "quorum": free_port(), "election": free_port()}
    client = ports["client"]
    ca_file = str(render_dir / "ca.crt")
    ensemble = Ensemble(render_dir, ports["client"])
    try:
        _render(render_dir, ports, quorum_tls=False)
        assert _quorum_tls_settings(render_dir, MEMBERS[0]) == []
        for member in MEMBERS:
            ensemble.start(member)
        ensemble.wait_serving("plaintext ensemble")
        before = _plaintext_opening(MEMBERS[2:], ports["election"])
        assert before[0] == Outcome.SUCCEEDED, before  # a plaintext election port reads it
        _assert_client_port(MEMBERS, client, ca_file, tls=False)

        # One phase per render, each a rolling restart (what three site.yml runs do).
        expected_phases = [
            ["sslQuorum=false", "portUnification=true"],
            ["sslQuorum=true", "portUnification=true"],
            ["sslQuorum=true"],
        ]
        unified = [f"clientPort={client}", "client.portUnification=true"]
        client_phases = [[f"clientPort={client}"], unified, unified, [f"secureClientPort={client}"]]
        for phase, settings in enumerate(expected_phases, 1):
            _render(render_dir, ports, quorum_tls=True)
            _assert_phase(render_dir, phase, settings, client_phases[phase], noted=True)
            ensemble.rolling_restart(f"phase {phase}")
        keystore = render_dir / MEMBERS[0] / "conf" / "tls" / "keystore.pem"
        assert oct(keystore.stat().st_mode & 0o777) == "0o640"
        # A further render changes nothing: the ensemble is where it was asked to be.
        _render(render_dir, ports, quorum_tls=True)
        assert _quorum_tls_settings(render_dir, MEMBERS[0]) == expected_phases[-1]

        election = [_plaintext_opening((member,), ports["election"]) for member in MEMBERS]
        quorum = _plaintext_opening(MEMBERS, ports["quorum"])  # the leader's
        assert [outcome for outcome, _ in election] == [Outcome.PLAINTEXT_REFUSED] * 3, election
        assert quorum[0] == Outcome.PLAINTEXT_REFUSED, quorum
        _assert_client_port(MEMBERS, client, ca_file, tls=True)

        _plaintext_member_stays_out(ensemble, render_dir, client)

        # A fresh start of all three forms the quorum over TLS (a deploy from bare nodes).
        ensemble.stop_all()
        for member in MEMBERS:
            ensemble.start(member)
        ensemble.wait_serving("fresh TLS ensemble")

        # And back: without zookeeper_quorum_tls_enabled the same steps in reverse.
        for phase, settings in reversed(list(enumerate([[], *expected_phases[:-1]]))):
            _render(render_dir, ports, quorum_tls=False)
            _assert_phase(render_dir, phase, settings, client_phases[phase], noted=True)
            ensemble.rolling_restart(f"back to phase {phase}")
        after = _plaintext_opening(MEMBERS[:1], ports["election"])
        assert after[0] == Outcome.SUCCEEDED, after
        _assert_client_port(MEMBERS, client, ca_file, tls=False)
    finally:
        ensemble.stop_all()
        CLIENT_TLS.clear()
