"""ZooKeeper: one server per zookeeper host, one leader and the rest followers, reachable; with
lendstream_tls the quorum speaks TLS only, with the node's certificate from the deployment CA."""

from __future__ import annotations

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
