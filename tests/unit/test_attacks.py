"""The attack suite's pure parts: the plans for the ci layout, the verdicts, the frame parser, the
service ports, and the clients module's independence (it is shipped as source to the nodes)."""

from __future__ import annotations

import ast
import ipaddress
import json
import re
import secrets
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from applicants import raw_applicant

from lendstream.attacks import capture, clients, runner, suite
from lendstream.attacks.clients import Outcome
from lendstream.chaos.cluster import ChaosCluster
from lendstream.cluster import load_cluster
from lendstream.pipeline.flow import SourceRecord, pack, triage_all
from lendstream.pipeline.sealing import Sealer, context


class _Cluster(ChaosCluster):
    """The ci layout as deployed, with lendstream_tls as the test says (no inventory read)."""

    with_tls: bool = True

    @property
    def tls(self) -> bool:
        return self.with_tls


def _targets(tls: bool) -> suite.Targets:
    cluster = _Cluster(layout=load_cluster().layout("ci"), vault_password_file=Path("/none"))
    cluster.with_tls = tls
    return suite.Targets(cluster)


SECRETS = {"vault_applicant_api_mysql_password": "the-api-password"}


def test_the_probe_attacks_everything_by_address_and_expects_every_attack_to_fail() -> None:
    plan = suite.probe_plan(_targets(tls=True))
    network = ipaddress.IPv4Network("192.168.61.0/24")
    assert {attack.expected for attack in plan} == {suite.FAILS}
    assert {attack.origin for attack in plan} == {"probe"}
    assert all(ipaddress.IPv4Address(host) in network for a in plan for host in a.hosts)
    names = {attack.attack for attack in plan}
    assert names == set(clients.ATTACKS) - {"tls-traffic"}
    ports = {attack.port for attack in plan}
    assert ports == {
        9092,
        9090,
        2181,
        2888,
        3888,
        6627,
        9871,  # the NameNode's and the ResourceManager's HTTPS ports (lendstream_tls)
        8020,
        8089,
        3306,
        8081,
        8090,
        16000,
        16020,
    }
    wrong = [a for a in plan if a.params.get("credentials") == "wrong"]
    assert {a.attack for a in wrong} == {"kafka-produce", "kafka-consume", "kafka-delete-topic"}
    # The Hadoop web servers over HTTPS, unverified (the probe has no CA); plain HTTP without TLS.
    web = [a for a in plan if a.attack in {"webhdfs-liststatus", "yarn-new-application"}]
    assert {a.params.get("scheme") for a in web} == {"https"}
    assert not [a for a in web if "ca_file" in a.params]
    plain = suite.probe_plan(_targets(tls=False))
    assert {a.port for a in plain if a.attack == "webhdfs-liststatus"} == {9870}
    assert {a.port for a in plain if a.attack == "yarn-new-application"} == {8088}
    assert not [a for a in plain if a.params.get("scheme") == "https" and a.port in {9870, 8088}]
    # Every risk service and the API, without a token and in plain HTTP.
    plain = [a for a in plan if a.attack == "plain-http"]
    assert sorted(a.hosts[0] for a in plain) == [
        "192.168.61.11",
        "192.168.61.12",
        "192.168.61.13",
        "192.168.61.13",
    ]


# Enforced on every cluster, TLS or not: HDFS and YARN refuse (the roles' defaults), and another
# node's HBase Thrift server does not answer (it listens on its node's loopback only).
EVERY_CLUSTER_ROWS = [
    ("hadoop-rpc-call", Outcome.DENIED),
    ("hbase-thrift-tables", suite.FAILS),
    ("webhdfs-liststatus", Outcome.DENIED),
    ("yarn-new-application", Outcome.DENIED),
]


def test_a_member_attacks_by_name_and_the_enforced_rows_follow_lendstream_tls() -> None:
    with_tls = suite.member_plan(_targets(tls=True), SECRETS)
    without = suite.member_plan(_targets(tls=False), SECRETS)
    assert {attack.origin for attack in with_tls} == {"m1"}  # not the API's node (m3)
    assert not {"kafka-produce", "nimbus-submit-topology"} & {a.attack for a in with_tls}
    enforced_without = [a for a in without if a.expected != suite.NOT_ENFORCED]
    assert sorted((a.attack, a.expected) for a in enforced_without) == EVERY_CLUSTER_ROWS
    enforced = [a for a in with_tls if a.expected != suite.NOT_ENFORCED]
    assert sorted((a.attack, a.expected) for a in enforced) == [
        ("applicant-api-list", Outcome.DENIED),
        ("applicant-api-list", Outcome.DENIED),
        ("hadoop-rpc-call", Outcome.DENIED),
        ("hbase-rpc-plaintext", Outcome.PLAINTEXT_REFUSED),
        ("hbase-rpc-plaintext", Outcome.PLAINTEXT_REFUSED),
        ("hbase-thrift-tables", suite.FAILS),
        ("kafka-consume", Outcome.DENIED),
        ("kafka-consume", Outcome.PLAINTEXT_REFUSED),
        ("kafka-delete-topic", Outcome.DENIED),
        ("kafka-delete-topic", Outcome.PLAINTEXT_REFUSED),
        ("mysql-connect", Outcome.DENIED),
        *[("plain-http", Outcome.PLAINTEXT_REFUSED)] * 7,  # the API, the risk service, 5 Hadoop
        ("risk-service-score", Outcome.DENIED),
        ("risk-service-score", Outcome.DENIED),
        ("webhdfs-liststatus", Outcome.DENIED),
        ("yarn-new-application", Outcome.DENIED),
        ("zookeeper-client-plaintext", Outcome.PLAINTEXT_REFUSED),
        ("zookeeper-delete-znode", Outcome.DENIED),
        ("zookeeper-delete-znode", Outcome.DENIED),
        ("zookeeper-delete-znode", Outcome.DENIED),
        ("zookeeper-quorum-plaintext", Outcome.PLAINTEXT_REFUSED),
        ("zookeeper-quorum-plaintext", Outcome.PLAINTEXT_REFUSED),
    ]
    # The client port (the zookeeper role's client TLS): a plaintext session request.
    client = [a for a in enforced if a.attack == "zookeeper-client-plaintext"]
    assert [(a.hosts, a.port) for a in client] == [(("m2",), 2181)]
    # The quorum (the zookeeper role's sslQuorum): one member's election port, the quorum port
    # of every member (only the leader listens there).
    quorum = [a for a in enforced if a.attack == "zookeeper-quorum-plaintext"]
    assert [(a.hosts, a.port) for a in quorum] == [(("m2",), 3888), (("m2", "m3", "m1"), 2888)]
    # HBase RPC (the hbase role's RPC TLS): a RegionServer's port, then a master's.
    hbase = [a for a in enforced if a.attack == "hbase-rpc-plaintext"]
    assert [a.port for a in hbase] == [16020, 16000]
    # HBase Thrift: another node's, by name, must not answer (loopback only there); the member's
    # own node's loopback one answers any login (happybase has no authentication): shown only.
    thrift = [a for a in with_tls if a.attack == "hbase-thrift-tables"]
    assert [(a.hosts, a.port, a.expected) for a in thrift] == [
        (("m2",), 9090, suite.FAILS),
        (("127.0.0.1",), 9090, suite.NOT_ENFORCED),
    ]
    # Every znode attack speaks TLS without a client certificate (the client port wants mutual
    # TLS): the root, then Storm's (the storm role's digest ACLs behind it) with no credentials
    # and with the wrong password.
    ca = {"ca_file": "/etc/lendstream/tls/ca.crt"}
    znodes = [a for a in enforced if a.attack == "zookeeper-delete-znode"]
    assert [a.params for a in znodes] == [
        ca,
        {"parent": "/storm", **ca},
        {"parent": "/storm", "digest": f"storm:{clients.WRONG_PASSWORD}", **ca},
    ]
    assert all(a.hosts == ("m2",) and a.port == 2181 for a in znodes)
    # Without lendstream_tls the root znode stays open to members (no ACLs without Kerberos).
    plain = [a for a in without if a.attack == "zookeeper-delete-znode"]
    assert [(a.params, a.expected) for a in plain] == [
        ({}, suite.NOT_ENFORCED),
        ({"parent": "/storm"}, suite.NOT_ENFORCED),
    ]
    mysql = next(a for a in enforced if a.attack == "mysql-connect")
    assert mysql.params == {"user": "lendstream_api", "password": "the-api-password"}
    assert all(
        a.hosts[0] != "m1" for a in enforced if a.attack not in {"mysql-connect", "hadoop-rpc-call"}
    )
    # WebHDFS over HTTPS (verified): a named user is refused; naming none still lists (Hadoop
    # 3.4 has no switch).
    https = {"scheme": "https", "ca_file": "/etc/lendstream/tls/ca.crt"}
    webhdfs = [(a.params, a.port, a.expected) for a in with_tls if a.attack == "webhdfs-liststatus"]
    assert webhdfs == [
        ({"user": "hdfs", **https}, 9871, Outcome.DENIED),
        (https, 9871, suite.NOT_ENFORCED),
    ]
    # Every Hadoop web server's HTTPS port (the hdfs and yarn roles' HTTPS_ONLY) answers no plain
    # HTTP, on another node than the member.
    hadoop_plain = [
        (a.hosts, a.port, a.params["path"])
        for a in with_tls
        if a.attack == "plain-http" and a.port not in {8081, 8090}
    ]
    assert hadoop_plain == [
        (("m2",), 9871, "/jmx"),
        (("m2",), 9865, "/jmx"),
        (("m2",), 8481, "/jmx"),
        (("m2",), 8089, "/ws/v1/cluster/info"),
        (("m2",), 8044, "/ws/v1/node/info"),
    ]
    yarn = next(a for a in with_tls if a.attack == "yarn-new-application")
    assert (yarn.port, yarn.params) == (8089, https)
    # Hadoop RPC from the member's loopback address to its own NameNode: past the firewall,
    # outside hadoop-policy.xml's hosts.
    rpc = next(a for a in enforced if a.attack == "hadoop-rpc-call")
    assert (rpc.hosts, rpc.port, rpc.params) == (("m1",), 8020, {"source": "127.0.0.1"})
    # Kafka: every broker (bootstrap), the deployment's CA with the wrong SCRAM user.
    kafka = [a for a in enforced if a.attack.startswith("kafka-")]
    assert all(a.hosts == ("m2", "m3", "m1") and a.port == 9092 for a in kafka)
    wrong = [a for a in kafka if a.expected == Outcome.DENIED]
    assert all(
        a.params.get("security_protocol") == "SASL_SSL"
        and a.params.get("ca_file") == "/etc/lendstream/tls/ca.crt"
        for a in wrong
    )
    assert not [a for a in with_tls if a.expected == suite.NOT_ENFORCED and "kafka" in a.attack]


@pytest.mark.parametrize(
    ("expected", "outcome", "verdict"),
    [
        (suite.FAILS, Outcome.DROPPED, suite.PASS),
        (suite.FAILS, Outcome.FAILED, suite.PASS),
        (suite.FAILS, Outcome.SUCCEEDED, suite.FAIL),
        (Outcome.DENIED, Outcome.DENIED, suite.PASS),
        (Outcome.DENIED, Outcome.SUCCEEDED, suite.FAIL),
        (
            Outcome.DENIED,
            Outcome.FAILED,
            suite.FAIL,
        ),  # failing otherwise proves no credential check
        (Outcome.PLAINTEXT_REFUSED, Outcome.SUCCEEDED, suite.FAIL),
        (suite.NOT_ENFORCED, Outcome.SUCCEEDED, suite.NOT_ENFORCED),
    ],
)
def test_verdicts(expected: str, outcome: str, verdict: str) -> None:
    attack = suite.Attack("a", "probe", "plain-http", ("h",), 1, expected)
    assert suite.Finding(attack, outcome, "", 0.0).verdict == verdict


def _frame(payload: bytes, source_port: int, destination_port: int) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", source_port, destination_port, 1, 0, 5 << 4, 0x18, 512, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        total,
        0,
        0,
        64,
        6,
        0,
        *(socket.inet_aton(a) for a in ("192.168.61.13", "192.168.61.11")),
    )
    return b"\x02" * 12 + b"\x08\x00" + ip + tcp + payload + b"\x00" * 6  # Ethernet padding


def test_the_frame_parser_and_the_service_port_of_a_flow() -> None:
    parsed = capture.parse_tcp(_frame(b'{"member_id":"SYN-1-2"}', 41000, 9092))
    assert parsed is not None
    flow, payload = parsed
    assert flow == ("192.168.61.13", 41000, "192.168.61.11", 9092)
    assert payload == b'{"member_id":"SYN-1-2"}'  # the padding is not payload
    assert capture.service_port(flow, [9092]) == 9092
    assert capture.service_port(("a", 9092, "b", 41000), [9092]) == 9092
    assert capture.service_port(flow, [8081]) == "other"
    assert capture.parse_tcp(b"\x00" * 12 + b"\x86\xdd" + b"\x00" * 60) is None  # IPv6


def test_the_capture_reads_a_packed_batch_but_not_a_sealed_one() -> None:
    """What the capture finds in a segment between Storm workers: a packed batch (deflated
    base64, as the tuples were before sealing) inflates to its applicants; sealed, nothing."""
    records = [
        SourceRecord("t", 0, n, 0, json.dumps(raw_applicant(f"SYN-1-{n}"))) for n in range(30)
    ]
    packed = pack(triage_all(records)[0])
    pattern = re.compile(b"|".join(f"SYN-1-{n}".encode() for n in reversed(range(30))))
    kryo_like = b"\x00\x03\x01\x8f" + packed.encode()[:1400]  # a first segment's worth
    found = capture.find_needle(pattern, kryo_like, 0)
    assert found is not None
    assert found.endswith("(deflated base64, inflated)")
    sealed = Sealer(secrets.token_bytes(32)).seal(packed, context("decide", "applicants"))
    assert capture.find_needle(pattern, b"\x00\x03" + sealed.encode()[:1400], 0) is None
    clear = b'{"member_id":"SYN-1-2"}'
    assert capture.find_needle(pattern, clear, 0) == "SYN-1-2"
    assert capture.find_needle(pattern, clear + b"xyz", len(clear)) is None  # seen already
    assert runner.sealed_ports() == (6700, 6701)


def test_service_ports_come_from_the_roles_defaults() -> None:
    ports = runner.service_ports()
    assert ports[9092] == "kafka: kafka_broker_port"
    assert ports[8081] == "applicant_api: applicant_api_port"
    assert ports[6700].startswith("storm: ")
    # A port a client role names too belongs to the role that serves it.
    assert ports[3306] == "mysql: mysql_port"
    assert ports[2181] == "zookeeper: zookeeper_client_port"
    assert runner.tls_ports() == (8081, 8090, 3306, 9092, 16020, 9866)


def test_the_clients_module_imports_nothing_of_lendstream() -> None:
    tree = ast.parse(Path(clients.__file__).read_text())
    imported = {
        name
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }
    assert not {name for name in imported if name.startswith("lendstream")}


@pytest.fixture
def plain_server() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_a_port_served_in_plain_http_is_a_successful_attack(plain_server: int) -> None:
    result = clients.run_one(
        {
            "id": 0,
            "attack": "plain-http",
            "hosts": ["127.0.0.1"],
            "port": plain_server,
            "params": {},
        }
    )
    assert result["outcome"] == Outcome.SUCCEEDED, result


HELD = None  # a server that reads and answers nothing: a plaintext one, or a busy TLS one


def _plaintext_server(answers: list[bytes | None]) -> tuple[socket.socket, list[bytes]]:
    """A server that reads each connection's first bytes, then gives it the next of ``answers``
    and closes (HELD: holds the connection until the client gives up)."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        for answer in answers:
            connection, _ = listener.accept()
            with connection:
                received.append(connection.recv(4096))
                if answer is HELD:
                    connection.settimeout(clients.REQUEST_ANSWER_S + 2)
                    with suppress(OSError):
                        connection.recv(64)  # until the client gives up
                else:
                    connection.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    return listener, received


def _hbase_response(call_id: int, exception: str | None = None) -> bytes:
    """An HBase RPC answer as a server frames it: the total length, then the delimited
    ResponseHeader (call_id; exception.exception_class_name when refused)."""
    header = bytes([0x08, call_id])
    if exception:
        refusal = bytes([0x0A, len(exception)]) + exception.encode()
        header += bytes([0x12, len(refusal)]) + refusal
    body = bytes([len(header)]) + header + b"\x00"
    return struct.pack(">i", len(body)) + body


TLS_ALERT = b"\x15\x03\x03\x00\x02\x02\x50"


@pytest.mark.parametrize(
    ("answers", "outcome", "said"),
    [
        ([_hbase_response(1)], Outcome.SUCCEEDED, "call 1 answered"),
        (
            [_hbase_response(1, "org.apache.hadoop.hbase.ipc.UnknownServiceException")],
            Outcome.SUCCEEDED,
            "call 1 refused: org.apache.hadoop.hbase.ipc.UnknownServiceException",
        ),
        ([TLS_ALERT], Outcome.PLAINTEXT_REFUSED, "TLS alert"),
        ([b""], Outcome.PLAINTEXT_REFUSED, "closed without a word"),
        # A TLS-only server too busy to hang up at once is asked again, not taken for plaintext.
        ([HELD, TLS_ALERT], Outcome.PLAINTEXT_REFUSED, "TLS alert"),
        ([HELD, _hbase_response(1)], Outcome.SUCCEEDED, "call 1 answered"),
        ([HELD] * clients.REQUEST_ATTEMPTS, Outcome.FAILED, "neither answered nor hung up"),
    ],
)
def test_the_hbase_rpc_plaintext_probe_needs_an_answer_or_a_hang_up_to_decide(
    monkeypatch: pytest.MonkeyPatch, answers: list[bytes | None], outcome: str, said: str
) -> None:
    monkeypatch.setattr(clients, "REQUEST_ANSWER_S", 0.3)
    listener, received = _plaintext_server(answers)
    with listener:
        port = listener.getsockname()[1]
        result, detail = clients.hbase_rpc_plaintext(["127.0.0.1"], port, {"daemon": "master"})
    assert (result, said in detail) == (outcome, True), detail
    assert received == [clients.hbase_rpc_call("MasterService", "IsMasterRunning")] * len(answers)


def test_the_hbase_rpc_call_is_framed_as_a_plaintext_client_frames_it() -> None:
    sent = clients.hbase_rpc_call("AdminService", "GetServerInfo")
    assert sent.startswith(clients.HBASE_RPC_PREAMBLE)
    rest = sent[len(clients.HBASE_RPC_PREAMBLE) :]
    (header_length,) = struct.unpack(">i", rest[:4])
    header = clients._pb_fields(rest[4 : 4 + header_length])
    assert header[2] == b"AdminService"
    assert clients._pb_fields(header[1]) == {1: b"lendstream-attack"}
    call = rest[4 + header_length :]
    (call_length,) = struct.unpack(">i", call[:4])
    assert len(call) == 4 + call_length
    request_length, index = clients._read_varint(call, 4)
    request_header = clients._pb_fields(call[index : index + request_length])
    assert request_header == {1: 1, 3: b"GetServerInfo", 4: 1}
    assert call[index + request_length :] == b"\x00"  # the empty request, delimited


def test_the_zookeeper_client_probe_reads_the_session_a_plaintext_member_gives() -> None:
    # ConnectResponse: length, protocol version, timeout, session id, 16-byte password.
    response = struct.pack(">iiiqi16s", 36, 0, 10_000, 0x1234, 16, b"")
    listener, received = _plaintext_server([response])
    with listener:
        result, detail = clients.zookeeper_client_plaintext(
            ["127.0.0.1"], listener.getsockname()[1], {}
        )
    assert (result, detail) == (
        Outcome.SUCCEEDED,
        "127.0.0.1: answered a plaintext request: session 0x1234",
    )
    assert received == [
        struct.pack(">i", len(clients.ZOOKEEPER_CONNECT)) + clients.ZOOKEEPER_CONNECT
    ]
