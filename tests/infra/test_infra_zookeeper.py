"""ZooKeeper: one server per zookeeper host, one leader and the rest followers, reachable; with
lendstream_tls the quorum and the client port speak TLS only, with the node's certificate from the
deployment CA (the client port: mutual TLS sessions only)."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest
from infra_cluster import (
    TLS_CA_FILE,
    ZOOKEEPER_CLIENT,
    ZOOKEEPER_ELECTION,
    assert_service,
    four_letter_word,
    groups,
    in_group,
    pipeline_tls,
)

testinfra_hosts = ["ansible://all"]


def test_server_runs_exactly_on_the_zookeeper_hosts(host: Any) -> None:
    if in_group(host, "zookeeper"):
        assert_service(host, "lendstream-zookeeper", (ZOOKEEPER_CLIENT, ZOOKEEPER_ELECTION))
    else:
        assert not host.service("lendstream-zookeeper").is_running


@pytest.mark.cluster_wide
def test_ensemble_has_one_leader_and_the_rest_followers(host: Any) -> None:
    members = groups(host)["zookeeper"]
    modes = [
        re.search(r"Mode: (\w+)", four_letter_word(host, member, "srvr")) for member in members
    ]
    names = sorted(match.group(1) for match in modes if match)
    assert names == sorted(["leader"] + ["follower"] * (len(members) - 1)), names


def test_every_member_answers_ruok(host: Any) -> None:
    for member in groups(host)["zookeeper"]:
        assert four_letter_word(host, member, "ruok") == "imok", member


ZOOKEEPER_CONF = "/etc/lendstream/zookeeper"  # the role's zookeeper_conf_dir
TLS_CERT_FILE = "/etc/lendstream/tls/node.crt"  # role pki's, beside TLS_CA_FILE
TLS_KEY_FILE = "/etc/lendstream/tls/node.key"
# A TLS handshake with a member's election port, verified against the deployment CA and the
# member's name (TLS 1.3: the client's side completes before the member asks for its certificate).
TLS_HANDSHAKE = """
import socket, ssl, sys
member, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
context = ssl.create_default_context(cafile=ca)
with socket.create_connection((member, port), timeout=5) as raw:
    with context.wrap_socket(raw, server_hostname=member) as tls:
        print(tls.version(), dict(x[0] for x in tls.getpeercert()["subject"])["commonName"])
"""


def test_quorum_speaks_tls_only_with_lendstream_tls(host: Any) -> None:
    """zoo.cfg has sslQuorum=true and no port unification exactly with lendstream_tls; the
    keystore is 0640 root:zookeeper; every member's election port then answers TLS with its own
    certificate, signed by the deployment CA."""
    zoo_cfg = host.file(f"{ZOOKEEPER_CONF}/zoo.cfg")
    if not in_group(host, "zookeeper"):
        assert not zoo_cfg.exists
        return
    lines = zoo_cfg.content_string.splitlines()
    tls = pipeline_tls(host)
    assert ("sslQuorum=true" in lines) == tls
    assert "portUnification=true" not in lines  # no migration left half-way
    if not tls:
        return
    with host.sudo():
        keystore = host.file(f"{ZOOKEEPER_CONF}/tls/keystore.pem")
        assert (keystore.user, keystore.group, keystore.mode) == ("root", "zookeeper", 0o640)
    for member in groups(host)["zookeeper"]:
        result = host.run(
            f"python3 -c {shlex.quote(TLS_HANDSHAKE)} {shlex.quote(member)} "
            f"{ZOOKEEPER_ELECTION} {TLS_CA_FILE}"
        )
        assert result.rc == 0, f"{member}: {result.stderr[-800:]}"
        assert result.stdout.split()[1] == member, result.stdout


# A ZooKeeper session on a member's client port, three ways: in plaintext, over TLS without a
# client certificate, over mutual TLS with the node's (root reads its key). Each opens a session
# (ConnectRequest) and closes it; prints the session id each got, or null when the member
# refused (hung up, or failed the handshake).
CLIENT_SESSIONS = """
import json, socket, ssl, struct, sys
member, port, ca, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
request = struct.pack(">iqiqi16s?", 0, 0, 10000, 0, 16, bytes(16), False)
def session(context):
    try:
        with socket.create_connection((member, port), timeout=5) as raw:
            raw.settimeout(5)
            connection = context.wrap_socket(raw, server_hostname=member) if context else raw
            connection.sendall(struct.pack(">i", len(request)) + request)
            answer = b""
            while len(answer) < 20:
                chunk = connection.recv(64)
                if not chunk:
                    return None
                answer += chunk
            connection.sendall(struct.pack(">iii", 8, 2, -11))
            return struct.unpack(">q", answer[12:20])[0]
    except (OSError, ssl.SSLError):
        return None
anonymous = ssl.create_default_context(cafile=ca)
mutual = ssl.create_default_context(cafile=ca)
mutual.load_cert_chain(cert, key)
print(json.dumps({"plaintext": session(None), "tls, no certificate": session(anonymous),
                  "mutual tls": session(mutual)}))
"""


def test_client_port_takes_mutual_tls_sessions_only_with_lendstream_tls(host: Any) -> None:
    """With lendstream_tls the member's client port is TLS only (secureClientPort, no clientPort,
    no port unification left from the rollout): a plaintext session and a TLS one without a
    client certificate are refused, a mutual TLS one with the node's certificate is opened.
    Without it, the plaintext session is opened."""
    if not in_group(host, "zookeeper"):
        return
    lines = host.file(f"{ZOOKEEPER_CONF}/zoo.cfg").content_string.splitlines()
    tls = pipeline_tls(host)
    assert (f"secureClientPort={ZOOKEEPER_CLIENT}" in lines) == tls
    assert (f"clientPort={ZOOKEEPER_CLIENT}" in lines) == (not tls)
    assert "client.portUnification=true" not in lines  # no migration left half-way
    member = host.backend.get_hostname()
    with host.sudo():
        result = host.run(
            f"python3 -c {shlex.quote(CLIENT_SESSIONS)} {shlex.quote(member)} {ZOOKEEPER_CLIENT} "
            f"{TLS_CA_FILE} {TLS_CERT_FILE} {TLS_KEY_FILE}"
        )
    assert result.rc == 0, result.stderr[-800:]
    sessions = json.loads(result.stdout)
    if tls:
        assert sessions["plaintext"] is None, sessions
        assert sessions["tls, no certificate"] is None, sessions
        assert sessions["mutual tls"], sessions
    else:
        assert sessions["plaintext"], sessions
