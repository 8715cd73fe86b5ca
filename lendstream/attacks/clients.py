"""The attacks themselves, one function each, with the real clients (kafka-python, happybase,
thriftpy2 through streamparse's Storm IDL, pymysql, requests) or the raw protocol (ZooKeeper).

This module imports nothing of lendstream, so it runs unchanged wherever the attacker is: in the
probe namespace on the host (``ip netns exec … python -m lendstream.attacks.clients``) and on a
cluster node with the node's virtualenv (its source sent over SSH as ``python -c``). The plan,
a JSON list of ``{"id", "attack", "hosts", "port", "params"}``, comes on standard input (it may
carry credentials: never on a command line); one JSON list of results goes to standard output.

Every attack is bounded: a TCP connect of ``CONNECT_TIMEOUT_S`` first (what the network lets
through), then the client with the same bound on connecting and a few seconds on answering.
Outcomes:

- ``dropped``: no answer to the SYN (a drop rule); ``refused``: a reset;
- ``denied``: the service answered and refused (401, a SASL or authorization error, MariaDB's
  access denied, ZooKeeper's NOAUTH, Storm's AuthorizationException);
- ``plaintext refused``: a plain HTTP request to a TLS port got no HTTP answer, or a plaintext
  Kafka client on the SASL_SSL port none at all (the port open, the broker hanging up);
- ``succeeded``: the attack did what it tried (the finding);
- ``failed``: the client failed otherwise (the detail says how).

Destructive attacks name something that does not exist (a topic, a znode, a topology): the
service's "no such thing" answer proves it would have obeyed, and nothing is harmed.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

CONNECT_TIMEOUT_S = 3.0
ANSWER_TIMEOUT_S = 8.0
WORKERS = 32  # every attack of a plan at once: they mostly wait
NO_SUCH_TOPIC = "lendstream.attack-no-such-topic"
NO_SUCH_ZNODE = "/lendstream-attack-no-such-znode"
NO_SUCH_TOPOLOGY = "lendstream-attack-no-such-topology"
WRONG_TOKEN = "attack-wrong-token"
WRONG_USER = "attacker"
WRONG_PASSWORD = "attack-wrong-password"

Result = tuple[str, str]  # (outcome, detail)
Params = dict[str, Any]


class Outcome:
    DROPPED = "dropped"
    REFUSED = "refused"
    DENIED = "denied"
    PLAINTEXT_REFUSED = "plaintext refused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def reach(host: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S) -> str:
    """open, refused or dropped: one bounded TCP connect."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return "open"
    except ConnectionRefusedError:
        return Outcome.REFUSED
    except (TimeoutError, OSError):
        return Outcome.DROPPED


def _short(error: BaseException) -> str:
    name, text = type(error).__name__, str(error)
    return (text if text.startswith(name) else f"{name}: {text}")[:160]


# ---- Kafka -------------------------------------------------------------------------------------
def _kafka_settings(params: Params, bootstrap: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "request_timeout_ms": int(ANSWER_TIMEOUT_S * 1000),
        "bootstrap_timeout_ms": int(CONNECT_TIMEOUT_S * 1000),
        "reconnect_backoff_max_ms": 1000,
    }
    if params.get("credentials") == "wrong":
        settings |= {
            "security_protocol": params.get("security_protocol", "SASL_PLAINTEXT"),
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": WRONG_USER,
            "sasl_plain_password": WRONG_PASSWORD,
        }
    if params.get("ca_file"):  # TLS verified against the deployment's CA (a member has it)
        settings |= {"ssl_cafile": params["ca_file"], "ssl_check_hostname": True}
    return settings


class _KafkaLog(logging.Handler):
    """kafka-python's log lines: a refused sign-in is only logged (by its I/O thread), the client
    then gives up its bootstrap as with any unreachable broker. Read by one signing-in attack at
    a time (``_one_sign_in_at_a_time``)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def start(self) -> None:
        if self not in logging.getLogger("kafka").handlers:
            logging.getLogger("kafka").addHandler(self)
        self.lines = []

    def text(self) -> str:
        return "\n".join(self.lines)


_KAFKA_LOG = _KafkaLog()
_SIGN_IN_LOCK = threading.Lock()


def _one_sign_in_at_a_time(attack: Callable[[list[str], int, Params], Result]) -> Any:
    """SASL_SSL attacks run one at a time, so the log lines read are their own (the others run
    in parallel and are judged without the log)."""

    def run(hosts: list[str], port: int, params: Params) -> Result:
        if params.get("security_protocol") != "SASL_SSL":
            return attack(hosts, port, params)
        with _SIGN_IN_LOCK:
            _KAFKA_LOG.start()
            return attack(hosts, port, params)

    run.__doc__ = attack.__doc__
    return run


def _kafka_failure(
    error: BaseException, params: Params | None = None, log: str = "", host: str = "", port: int = 0
) -> Result:
    name = type(error).__name__
    params = params or {}
    if "Authorization" in name or "Sasl" in name or "Authentication" in name:
        return Outcome.DENIED, _short(error)
    tls_sasl = params.get("security_protocol") == "SASL_SSL"
    if tls_sasl and re.search(r"Sasl\w*Error|[Aa]uthentication failed", log):
        return Outcome.DENIED, "SCRAM sign-in refused: " + _first_line(log, "uthentication")
    if tls_sasl and "KafkaSSLTransport" in log and "disconnected" in log:
        # TLS verified, then the broker hung up on the SCRAM exchange (the failure's answer
        # can lose the race with the close): the credentials were refused.
        return Outcome.DENIED, "closed at the SCRAM sign-in after the TLS handshake"
    if params.get("tls_port") and not tls_sasl and host and reach(host, port) == "open":
        return Outcome.PLAINTEXT_REFUSED, "the port is open, no plaintext Kafka answer"
    if name in {"NoBrokersAvailable", "KafkaTimeoutError"}:
        return Outcome.FAILED, f"no broker answered ({name})"
    return Outcome.FAILED, _short(error)


def _first_line(log: str, word: str) -> str:
    return next((line for line in log.splitlines() if word in line), "")[:160]


@_one_sign_in_at_a_time
def kafka_produce(hosts: list[str], port: int, params: Params) -> Result:
    """Publish one marked record to the applicant topic (the pipeline would dead-letter it)."""
    from kafka import KafkaProducer  # noqa: PLC0415 - a client per attack, imported when used

    try:
        producer = KafkaProducer(
            **_kafka_settings(params, [f"{host}:{port}" for host in hosts]),
            max_block_ms=int(ANSWER_TIMEOUT_S * 1000),
        )
        try:
            future = producer.send(params["topic"], key=b"attack", value=b'{"attack": true}')
            metadata = future.get(timeout=ANSWER_TIMEOUT_S)
            return Outcome.SUCCEEDED, f"written at partition {metadata.partition}"
        finally:
            producer.close(timeout=1)
    except Exception as error:
        return _kafka_failure(error, params, _KAFKA_LOG.text(), hosts[0], port)


@_one_sign_in_at_a_time
def kafka_consume(hosts: list[str], port: int, params: Params) -> Result:
    """Read records of the applicant topic (no group: nothing is committed)."""
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

    try:
        consumer = KafkaConsumer(
            **_kafka_settings(params, [f"{host}:{port}" for host in hosts]),
            group_id=None,
            enable_auto_commit=False,
            consumer_timeout_ms=int(ANSWER_TIMEOUT_S * 1000),
        )
        try:
            partitions = consumer.partitions_for_topic(params["topic"])
            if not partitions:
                return Outcome.FAILED, "no metadata for the topic"
            assigned = [TopicPartition(params["topic"], p) for p in sorted(partitions)]
            consumer.assign(assigned)
            consumer.seek_to_beginning(*assigned)
            records = 0
            deadline = time.monotonic() + ANSWER_TIMEOUT_S
            while not records and time.monotonic() < deadline:
                batch = consumer.poll(timeout_ms=1000, max_records=5)
                records = sum(len(records) for records in batch.values())
            if records:
                return Outcome.SUCCEEDED, f"read {records} records"
            # An authorizer would have refused the metadata (TopicAuthorizationFailed).
            return Outcome.SUCCEEDED, f"{len(partitions)} partitions' metadata read, no record yet"
        finally:
            consumer.close()
    except Exception as error:
        return _kafka_failure(error, params, _KAFKA_LOG.text(), hosts[0], port)


@_one_sign_in_at_a_time
def kafka_delete_topic(hosts: list[str], port: int, params: Params) -> Result:
    """Delete a topic (one that does not exist: UNKNOWN_TOPIC_OR_PARTITION means authorised)."""
    from kafka import KafkaAdminClient  # noqa: PLC0415

    try:
        admin = KafkaAdminClient(**_kafka_settings(params, [f"{host}:{port}" for host in hosts]))
        try:
            admin.delete_topics([NO_SUCH_TOPIC], timeout_ms=int(ANSWER_TIMEOUT_S * 1000))
            return Outcome.SUCCEEDED, "delete accepted"
        finally:
            admin.close()
    except Exception as error:
        if "UnknownTopicOrPartition" in type(error).__name__ or "UNKNOWN_TOPIC" in str(error):
            return Outcome.SUCCEEDED, "authorised: the broker looked the topic up (no such topic)"
        return _kafka_failure(error, params, _KAFKA_LOG.text(), hosts[0], port)


# ---- HBase Thrift, Storm nimbus ------------------------------------------------------------------
def hbase_thrift_tables(hosts: list[str], port: int, params: Params) -> Result:
    """List the tables through an HBase Thrift server (happybase)."""
    import happybase  # noqa: PLC0415

    try:
        connection = happybase.Connection(
            hosts[0], port, timeout=int(ANSWER_TIMEOUT_S * 1000), autoconnect=False
        )
        connection.open()
        try:
            return Outcome.SUCCEEDED, f"tables: {[t.decode() for t in connection.tables()]}"
        finally:
            connection.close()
    except Exception as error:
        return Outcome.FAILED, _short(error)


def _best(results: list[Result]) -> Result:
    """The most successful of several hosts' results (HA sets: only a leader may serve)."""
    order = [Outcome.SUCCEEDED, Outcome.DENIED, Outcome.FAILED]
    return min(results, key=lambda result: order.index(result[0]) if result[0] in order else 3)


def _nimbus_call(hosts: list[str], port: int, call: Callable[[Any], Result]) -> Result:
    results = []
    for host in hosts:
        results.append(_nimbus_call_one(host, port, call))
        if results[-1][0] == Outcome.SUCCEEDED:
            break
    outcome, detail = _best(results)
    return outcome, detail if len(hosts) == 1 else f"{detail} ({len(results)} asked)"


def _nimbus_call_one(host: str, port: int, call: Callable[[Any], Result]) -> Result:
    from streamparse.thrift import Nimbus  # noqa: PLC0415
    from thriftpy2.protocol import TBinaryProtocolFactory  # noqa: PLC0415
    from thriftpy2.thrift import TClient  # noqa: PLC0415
    from thriftpy2.transport import TFramedTransportFactory, TSocket  # noqa: PLC0415

    timeout_ms = int(ANSWER_TIMEOUT_S * 1000)
    transport = TFramedTransportFactory().get_transport(
        TSocket(
            host, port, connect_timeout=int(CONNECT_TIMEOUT_S * 1000), socket_timeout=timeout_ms
        )
    )
    try:
        transport.open()
        try:
            return call(TClient(Nimbus, TBinaryProtocolFactory().get_protocol(transport)))
        finally:
            transport.close()
    except Exception as error:
        if "Authorization" in type(error).__name__:
            return Outcome.DENIED, _short(error)
        return Outcome.FAILED, _short(error)


def nimbus_cluster_info(hosts: list[str], port: int, params: Params) -> Result:
    def call(client: Any) -> Result:
        info = client.getClusterInfo()
        return (
            Outcome.SUCCEEDED,
            f"{len(info.topologies)} topologies, {len(info.supervisors)} supervisors, "
            f"nimbus {info.nimbuses[0].host}",
        )

    return _nimbus_call(hosts, port, call)


def nimbus_kill_topology(hosts: list[str], port: int, params: Params) -> Result:
    """killTopology of a topology that does not exist: NotAliveException means authorised."""

    def call(client: Any) -> Result:
        try:
            client.killTopology(NO_SUCH_TOPOLOGY)
        except Exception as error:
            if "NotAlive" in type(error).__name__:
                return Outcome.SUCCEEDED, "authorised: nimbus looked the topology up (not alive)"
            raise
        return Outcome.SUCCEEDED, "kill accepted"

    return _nimbus_call(hosts, port, call)


def nimbus_submit_topology(hosts: list[str], port: int, params: Params) -> Result:
    """The first step of a submission: beginFileUpload (a jar upload location on nimbus)."""

    def call(client: Any) -> Result:
        location = client.beginFileUpload()
        return Outcome.SUCCEEDED, f"upload location granted: {location}"

    return _nimbus_call(hosts, port, call)


# ---- ZooKeeper (its wire protocol: no client library in the virtualenv) -------------------------
def _read_exact(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("ZooKeeper closed the connection")
        data += chunk
    return data


def _zk_frame(connection: socket.socket, payload: bytes) -> bytes:
    connection.sendall(struct.pack(">i", len(payload)) + payload)
    (length,) = struct.unpack(">i", _read_exact(connection, 4))
    return _read_exact(connection, length)


def _zk_string(value: str) -> bytes:
    data = value.encode()
    return struct.pack(">i", len(data)) + data


# ConnectRequest: protocol 0, last zxid 0, timeout 10 s, session 0, 16-byte password, read-write.
ZOOKEEPER_CONNECT = struct.pack(">iqiqi16s?", 0, 0, 10_000, 0, 16, b"", False)


def zookeeper_delete_znode(hosts: list[str], port: int, params: Params) -> Result:
    """Open a session and delete a znode that does not exist, under ``params["parent"]`` (the
    root by default), as ``params["digest"]`` ("user:password", ZooKeeper's digest scheme) when
    given: NONODE (-101) means the server would have deleted it, NOAUTH (-102) that the parent's
    ACL holds (ZooKeeper checks the parent's DELETE permission before the child exists).
    With ``params["ca_file"]`` over TLS (the member's certificate checked against that CA) but
    without a client certificate, as an attacker on a node has none: a client port that wants
    mutual TLS refuses the handshake (denied)."""
    parent = str(params.get("parent", "/")).rstrip("/")
    path = f"{parent}{NO_SUCH_ZNODE}"
    ca_file = params.get("ca_file")
    try:
        with socket.create_connection((hosts[0], port), timeout=CONNECT_TIMEOUT_S) as raw:
            raw.settimeout(ANSWER_TIMEOUT_S)
            connection = raw
            try:
                if ca_file:
                    context = ssl.create_default_context(cafile=str(ca_file))
                    connection = context.wrap_socket(raw, server_hostname=hosts[0])
                answer = _zk_frame(connection, ZOOKEEPER_CONNECT)
            except OSError as refusal:  # ssl.SSLError and ConnectionError are OSErrors
                if ca_file:
                    return Outcome.DENIED, f"TLS without a client certificate: {_short(refusal)}"
                raise
            session = struct.unpack(">q", answer[8:16])[0]
            digest = params.get("digest")
            if digest:
                # AuthPacket (xid -4, type 100): type 0, scheme, credentials. The digest scheme
                # takes any user and password as that identity; the ACLs decide what it may do.
                auth_reply = _zk_frame(
                    connection,
                    struct.pack(">iii", -4, 100, 0)
                    + _zk_string("digest")
                    + _zk_string(str(digest)),
                )
                auth_error = struct.unpack(">iqi", auth_reply[:16])[2]
                if auth_error:
                    return Outcome.DENIED, f"authentication answered {auth_error}"
            # RequestHeader (xid 1, type 2 = delete), path, version -1.
            request = struct.pack(">ii", 1, 2) + _zk_string(path)
            reply = _zk_frame(connection, request + struct.pack(">i", -1))
            _, _, error = struct.unpack(">iqi", reply[:16])
            connection.sendall(struct.pack(">iii", 8, 2, -11))  # closeSession
    except (OSError, struct.error) as failure:
        return Outcome.FAILED, _short(failure)
    if error == -102:
        return Outcome.DENIED, f"NOAUTH on {path}"
    if error in {0, -101}:
        return Outcome.SUCCEEDED, f"session {session:#x}; delete {path}: {error} (authorised)"
    return Outcome.FAILED, f"delete {path} answered {error}"


OPENING_HOLD_S = 2.0  # how long a plaintext peer's opening must be held to count as read
# A request a plaintext server answers gets this long for its answer, on each of this many
# connections: a TLS-only server hangs up at once, a busy one may take seconds to.
REQUEST_ANSWER_S = 5.0
REQUEST_ATTEMPTS = 3
# A ZooKeeper member's first 8 bytes (election protocol 2).
QUORUM_OPENING = struct.pack(">q", -65535)
# HBase RPC's preamble: magic, version 0, SIMPLE authentication.
HBASE_RPC_PREAMBLE = b"HBas\x00\x50"
# The read each HBase daemon serves, by daemon: (service, method), an empty request each.
HBASE_RPC_READS = {
    "master": ("MasterService", "IsMasterRunning"),
    "regionserver": ("AdminService", "GetServerInfo"),
}


def _plaintext_exchange(
    host: str,
    connection: socket.socket,
    data: bytes,
    wait_s: float,
    describe: Callable[[bytes], str],
) -> Result | None:
    """Send plaintext bytes and read what comes back within ``wait_s``: a TLS-only port hangs up
    on them at once (a TLS alert, a close or a reset); any other answer is a plaintext server's
    (``describe`` says what it answered). None when neither came in time."""
    try:
        connection.sendall(data)
        connection.settimeout(wait_s)
        answer = connection.recv(4096)
    except TimeoutError:
        return None
    except OSError as failure:
        return Outcome.PLAINTEXT_REFUSED, f"{host}: {_short(failure)}"
    if answer[:1] == b"\x15":
        return Outcome.PLAINTEXT_REFUSED, f"{host}: TLS alert {answer[:7].hex()}, then closed"
    if not answer:
        return Outcome.PLAINTEXT_REFUSED, f"{host}: closed without a word"
    return Outcome.SUCCEEDED, f"{host}: {describe(answer)}"


def _plaintext_opening(host: str, connection: socket.socket, opening: bytes) -> Result:
    """Send a plaintext protocol's first bytes, which a plaintext server reads and waits for more
    (it answers nothing), so a hold of OPENING_HOLD_S counts as read."""
    result = _plaintext_exchange(
        host,
        connection,
        opening,
        OPENING_HOLD_S,
        lambda answer: f"answered a plaintext peer ({answer[:8].hex()})",
    )
    return result or (
        Outcome.SUCCEEDED,
        f"{host}: held a plaintext peer's opening {OPENING_HOLD_S} s",
    )


def _plaintext_request(
    host: str, connection: socket.socket, request: bytes, describe: Callable[[bytes], str]
) -> Result | None:
    """Send a plaintext protocol's whole first request, which a plaintext server answers: the
    answer is the proof. None when nothing came within REQUEST_ANSWER_S: a busy server, no
    evidence either way."""
    return _plaintext_exchange(
        host,
        connection,
        request,
        REQUEST_ANSWER_S,
        lambda answer: f"answered a plaintext request: {describe(answer)}",
    )


class _NoConnectionError(Exception):
    """No host of a list accepted a connection: ``result`` says why."""

    def __init__(self, result: Result) -> None:
        super().__init__(result[1])
        self.result = result


def _connect_to_first(hosts: list[str], port: int) -> tuple[str, socket.socket]:
    """A connection to the first host that accepts one (HA sets: the others may not listen)."""
    for host in hosts:
        try:
            return host, socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
        except ConnectionRefusedError:
            continue
        except OSError as failure:
            raise _NoConnectionError((Outcome.FAILED, f"{host}: {_short(failure)}")) from failure
    raise _NoConnectionError((Outcome.REFUSED, "no host accepted the connection"))


def _first_plaintext_opening(hosts: list[str], port: int, opening: bytes) -> Result:
    """``_plaintext_opening`` on the first host that accepts the connection."""
    try:
        host, connection = _connect_to_first(hosts, port)
    except _NoConnectionError as none:
        return none.result
    with connection:
        return _plaintext_opening(host, connection, opening)


def _first_plaintext_request(
    hosts: list[str], port: int, request: bytes, describe: Callable[[bytes], str]
) -> Result:
    """``_plaintext_request`` on the first host that accepts the connection, on a new connection
    each time the server neither answers nor hangs up, REQUEST_ATTEMPTS times at most."""
    for _ in range(REQUEST_ATTEMPTS):
        try:
            host, connection = _connect_to_first(hosts, port)
        except _NoConnectionError as none:
            return none.result
        with connection:
            result = _plaintext_request(host, connection, request, describe)
        if result is not None:
            return result
    return (
        Outcome.FAILED,
        f"{host}: neither answered nor hung up on a plaintext request in {REQUEST_ANSWER_S} s, "
        f"{REQUEST_ATTEMPTS} times (a busy server: no evidence either way)",
    )


def zookeeper_quorum_plaintext(hosts: list[str], port: int, params: Params) -> Result:
    """A plaintext peer's opening on a member's quorum or election port (the first host that
    accepts: only the leader listens on the quorum port): the 8-byte protocol version a member
    sends first (election protocol 2), nothing a member acts on."""
    return _first_plaintext_opening(hosts, port, QUORUM_OPENING)


def _zookeeper_session(answer: bytes) -> str:
    """A ConnectResponse's session id (after its length, protocol version and timeout)."""
    if len(answer) < 20:
        return f"{len(answer)} bytes"
    return f"session {struct.unpack('>q', answer[12:20])[0]:#x}"


def zookeeper_client_plaintext(hosts: list[str], port: int, params: Params) -> Result:
    """A plaintext client's session request (ConnectRequest) on a member's client port: a
    plaintext member answers it with a session; a TLS-only one (the zookeeper role's client TLS,
    phase 3) hangs up."""
    request = struct.pack(">i", len(ZOOKEEPER_CONNECT)) + ZOOKEEPER_CONNECT
    return _first_plaintext_request(hosts, port, request, _zookeeper_session)


# ---- Protocol buffers by hand: the few fields the Hadoop and HBase RPC calls write and read -----
def _varint(value: int) -> bytes:
    out = b""
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            return out + bytes([low])
        out += bytes([low | 0x80])


def _pb_int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _pb_bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _delimited(message: bytes) -> bytes:
    return _varint(len(message)) + message


def _read_varint(data: bytes, index: int) -> tuple[int, int]:
    """A varint at ``index``: its value and the index after it."""
    value, shift = 0, 0
    while True:
        byte = data[index]
        index += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, index


def _pb_fields(message: bytes) -> dict[int, Any]:
    """The varint and length-delimited fields of a protocol-buffer message (last one wins)."""
    fields: dict[int, Any] = {}
    index = 0
    while index < len(message):
        key, index = _read_varint(message, index)
        if key & 7 == 0:
            fields[key >> 3], index = _read_varint(message, index)
        elif key & 7 == 2:
            length, index = _read_varint(message, index)
            fields[key >> 3] = message[index : index + length]
            index += length
        else:
            break  # no other wire type among the answers' fields read here
    return fields


# ---- HBase RPC -----------------------------------------------------------------------------------
def hbase_rpc_call(service: str, method: str) -> bytes:
    """A plaintext HBase RPC connection's first bytes: the preamble, the ConnectionHeader
    (user_info.effective_user, service_name) and call 1 of ``method`` with an empty request
    (RequestHeader: call_id, method_name, request_param), each framed by its length."""
    header = _pb_bytes(1, _pb_bytes(1, "lendstream-attack")) + _pb_bytes(2, service)
    call = _delimited(_pb_int(1, 1) + _pb_bytes(3, method) + _pb_int(4, 1)) + _delimited(b"")
    return (
        HBASE_RPC_PREAMBLE
        + struct.pack(">i", len(header))
        + header
        + struct.pack(">i", len(call))
        + call
    )


def hbase_rpc_answer(answer: bytes) -> str:
    """What an HBase RPC answer says: its ResponseHeader's call id, and the exception's class
    when the server refused the call."""
    try:
        length, at = _read_varint(answer, 4)
        response = _pb_fields(answer[at : at + length])
        exception = response.get(2)
        refused = _pb_fields(exception).get(1) if isinstance(exception, bytes) else None
    except IndexError:
        return f"{len(answer)} bytes"
    name = refused.decode(errors="replace") if isinstance(refused, bytes) else None
    return f"call {response.get(1)}" + (f" refused: {name}" if name else " answered")


def hbase_rpc_plaintext(hosts: list[str], port: int, params: Params) -> Result:
    """A plaintext HBase RPC call on a master's or RegionServer's RPC port: the read that
    ``params["daemon"]`` serves (HBASE_RPC_READS). A plaintext server answers it, even with a
    refusal; a TLS-only one hangs up."""
    request = hbase_rpc_call(*HBASE_RPC_READS[str(params.get("daemon", "regionserver"))])
    return _first_plaintext_request(hosts, port, request, hbase_rpc_answer)


# ---- HTTP: WebHDFS, ResourceManager, the applicant API, the risk service -------------------------
def _http(method: str, url: str, params: Params, **extra: Any) -> Any:
    import requests  # noqa: PLC0415

    headers = {}
    token = params.get("token")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(
        method,
        url,
        headers=headers,
        timeout=(CONNECT_TIMEOUT_S, ANSWER_TIMEOUT_S),
        verify=params.get("ca_file") or False,
        allow_redirects=False,
        **extra,
    )


def _reason(response: Any) -> str:
    """The first words of a refusal's body (Hadoop says why): a WebHDFS RemoteException's
    message, or the text with markup stripped."""
    try:
        text = str(response.json()["RemoteException"]["message"])
    except (ValueError, KeyError, TypeError):
        text = re.sub(r"<[^>]*>", " ", response.text or "")
    return " ".join(text.split())[:100]


def _http_attack(
    method: str,
    path: str,
    hosts: list[str],
    port: int,
    params: Params,
    **extra: Any,
) -> Result:
    """The most successful answer among the hosts (HA pairs: only the active one serves)."""
    scheme = params.get("scheme", "http")
    results = []
    for host in hosts:
        try:
            response = _http(method, f"{scheme}://{host}:{port}{path}", params, **extra)
        except Exception as error:
            results.append((Outcome.FAILED, f"{host}: {_short(error)}"))
            continue
        status = response.status_code
        if status in {401, 403} and "Standby" not in response.text:
            results.append((Outcome.DENIED, f"{host}: HTTP {status} {_reason(response)}".strip()))
        elif response.status_code < 300 or response.status_code in {400, 404, 422}:
            results.append((Outcome.SUCCEEDED, f"{host}: HTTP {response.status_code}"))
        else:
            results.append((Outcome.FAILED, f"{host}: HTTP {response.status_code}"))
    return _best(results)


def webhdfs_liststatus(hosts: list[str], port: int, params: Params) -> Result:
    """LISTSTATUS / over WebHDFS, as ``user`` (``user.name``; none: the static web user), on
    ``scheme`` (https with ``ca_file`` under lendstream_tls, the hdfs role's HTTPS_ONLY). It
    succeeds when the listing comes back; a refused user name (the hdfs role's user pattern) is a
    denial, whatever the NameNode's HA state."""
    user = params.get("user")
    query = "op=LISTSTATUS" + (f"&user.name={user}" if user else "")
    scheme = params.get("scheme", "http")
    results = []
    for host in hosts:
        try:
            response = _http("GET", f"{scheme}://{host}:{port}/webhdfs/v1/?{query}", params)
        except Exception as error:
            results.append((Outcome.FAILED, f"{host}: {_short(error)}"))
            continue
        status, text = response.status_code, response.text
        if status == 200 and "FileStatuses" in text:
            entries = text.count("pathSuffix")
            results.append((Outcome.SUCCEEDED, f"{host}: HTTP 200, {entries} entries"))
        elif status in {400, 401, 403, 404} and "Standby" not in text:
            results.append((Outcome.DENIED, f"{host}: HTTP {status} {_reason(response)}".strip()))
        else:
            results.append((Outcome.FAILED, f"{host}: HTTP {status}"))
    return _best(results)


def yarn_new_application(hosts: list[str], port: int, params: Params) -> Result:
    return _http_attack("POST", "/ws/v1/cluster/apps/new-application", hosts, port, params)


def applicant_api_list(hosts: list[str], port: int, params: Params) -> Result:
    return _http_attack("GET", "/v1/applicants?limit=1", hosts, port, params)


def risk_service_score(hosts: list[str], port: int, params: Params) -> Result:
    return _http_attack("POST", "/v1/score", hosts, port, params, json={"applicants": []})


def plain_http(hosts: list[str], port: int, params: Params) -> Result:
    """A plain HTTP request to a TLS port: any HTTP answer means it is served in clear."""
    try:
        response = _http("GET", f"http://{hosts[0]}:{port}{params.get('path', '/healthz')}", {})
    except Exception as error:
        return Outcome.PLAINTEXT_REFUSED, f"no HTTP answer: {_short(error)}"
    return Outcome.SUCCEEDED, f"HTTP {response.status_code} in clear text"


# ---- Hadoop RPC (its wire protocol, version 9: no Hadoop client in the virtualenv) ---------------
HADOOP_CLIENT_PROTOCOL = "org.apache.hadoop.hdfs.protocol.ClientProtocol"
_RPC_CONNECTION_CONTEXT_CALL_ID = -3


def _zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 31)


def _rpc_header(call_id: int, client_id: bytes) -> bytes:
    """RpcRequestHeaderProto: protocol-buffer kind, final packet, the call id, no retry."""
    return _delimited(
        _pb_int(1, 2)
        + _pb_int(2, 0)
        + _pb_int(3, _zigzag(call_id))
        + _pb_bytes(4, client_id)
        + _pb_int(5, _zigzag(-1))
    )


def _rpc_packet(*parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">i", len(body)) + body


def hadoop_rpc_call(hosts: list[str], port: int, params: Params) -> Result:
    """One harmless NameNode call (``getServerDefaults``) over Hadoop RPC, from ``source`` when
    given (a local address: a NameNode on this host is then reached from outside its allowed
    hosts). Simple authentication: the connection context names a user, nothing proves it.
    Service-level authorization refuses the connection context (FATAL, AuthorizationException)."""
    source = params.get("source")
    try:
        connection = socket.create_connection(
            (hosts[0], port),
            timeout=CONNECT_TIMEOUT_S,
            source_address=(source, 0) if source else None,
        )
    except OSError as error:
        return Outcome.FAILED, _short(error)
    client_id = bytes(range(16))
    context = _pb_bytes(2, _pb_bytes(1, params.get("user", "hdfs"))) + _pb_bytes(
        3, HADOOP_CLIENT_PROTOCOL
    )
    call = _pb_bytes(1, "getServerDefaults") + _pb_bytes(2, HADOOP_CLIENT_PROTOCOL) + _pb_int(3, 1)
    try:
        with connection:
            connection.settimeout(ANSWER_TIMEOUT_S)
            connection.sendall(
                b"hrpc"
                + bytes([9, 0, 0])  # version 9, default service class, no SASL
                + _rpc_packet(
                    _rpc_header(_RPC_CONNECTION_CONTEXT_CALL_ID, client_id), _delimited(context)
                )
                + _rpc_packet(_rpc_header(0, client_id), _delimited(call), _delimited(b""))
            )
            (length,) = struct.unpack(">i", _read_exact(connection, 4))
            answer = _read_exact(connection, length)
    except (OSError, struct.error) as error:
        return Outcome.FAILED, f"{hosts[0]}: no RPC answer: {_short(error)}"
    header_length, index = _read_varint(answer, 0)
    header = _pb_fields(answer[index : index + header_length])
    status = header.get(2, -1)
    exception = bytes(header.get(4, b"")).decode(errors="replace")
    message = bytes(header.get(5, b"")).decode(errors="replace")
    if status == 0:
        return Outcome.SUCCEEDED, f"{hosts[0]}: getServerDefaults answered"
    if "AuthorizationException" in exception:
        return Outcome.DENIED, f"{hosts[0]}: {message}"[:160]
    return Outcome.FAILED, f"{hosts[0]}: status {status} {exception}: {message}"[:160]


# ---- MariaDB ------------------------------------------------------------------------------------
def mysql_connect(hosts: list[str], port: int, params: Params) -> Result:
    """Log in over plain TCP (``ssl_disabled``: pymysql would otherwise try TLS on its own)."""
    import pymysql  # noqa: PLC0415

    try:
        connection = pymysql.connect(
            host=hosts[0],
            port=port,
            user=params.get("user", WRONG_USER),
            password=params.get("password", WRONG_PASSWORD),
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=ANSWER_TIMEOUT_S,
            ssl_disabled=True,
        )
    except pymysql.err.OperationalError as error:
        if error.args and error.args[0] == 1045:
            return Outcome.DENIED, _short(error)
        return Outcome.FAILED, _short(error)
    except Exception as error:
        return Outcome.FAILED, _short(error)
    connection.close()
    return Outcome.SUCCEEDED, "logged in over plain TCP"


def tls_traffic(hosts: list[str], port: int, params: Params) -> Result:
    """Not an attack: the legitimate clients' way to the applicants, for the packet capture to
    look into. MariaDB over verified TLS (the API's account) for the rows whose member id starts
    with ``prefix``, the same rows from the applicant API over HTTPS with its token, and their
    member ids to every risk service over HTTPS with its token. Credentials come in ``params``."""
    import pymysql  # noqa: PLC0415

    ca_file = params["ca_file"]
    try:
        connection = pymysql.connect(
            host=hosts[0],
            port=port,
            user=params["mysql_user"],
            password=params["mysql_password"],
            database=params["mysql_database"],
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=ANSWER_TIMEOUT_S,
            ssl_ca=ca_file,
            ssl_verify_cert=True,
            ssl_verify_identity=True,
        )
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, member_id FROM applicants WHERE member_id LIKE %s ORDER BY id",
                (params["prefix"] + "%",),
            )
            rows = cursor.fetchall()
        if not rows:
            return Outcome.FAILED, f"no row with member id {params['prefix']}*"
        api = _http(
            "GET",
            f"https://{params['api_host']}:{params['api_port']}/v1/applicants"
            f"?after={rows[0][0] - 1}&limit={min(len(rows), 1000)}",
            {"token": params["api_token"], "ca_file": ca_file},
        )
        api.raise_for_status()
        served = len(api.json()["applicants"])
        body = {"applicants": [{"member_id": member_id} for _, member_id in rows]}
        scored = [
            _http(
                "POST",
                f"https://{host}:{params['risk_port']}/v1/score",
                {"token": params["risk_token"], "ca_file": ca_file},
                json=body,
            ).status_code
            for host in params["risk_hosts"]
        ]
    except Exception as error:
        return Outcome.FAILED, _short(error)
    return (
        Outcome.SUCCEEDED,
        f"MariaDB/TLS {len(rows)} rows, API/HTTPS {served}, risk/HTTPS answers {scored}",
    )


ATTACKS: dict[str, Callable[[list[str], int, Params], Result]] = {
    "tls-traffic": tls_traffic,
    "kafka-produce": kafka_produce,
    "kafka-consume": kafka_consume,
    "kafka-delete-topic": kafka_delete_topic,
    "hbase-thrift-tables": hbase_thrift_tables,
    "hbase-rpc-plaintext": hbase_rpc_plaintext,
    "nimbus-cluster-info": nimbus_cluster_info,
    "nimbus-kill-topology": nimbus_kill_topology,
    "nimbus-submit-topology": nimbus_submit_topology,
    "zookeeper-delete-znode": zookeeper_delete_znode,
    "zookeeper-quorum-plaintext": zookeeper_quorum_plaintext,
    "zookeeper-client-plaintext": zookeeper_client_plaintext,
    "webhdfs-liststatus": webhdfs_liststatus,
    "yarn-new-application": yarn_new_application,
    "hadoop-rpc-call": hadoop_rpc_call,
    "applicant-api-list": applicant_api_list,
    "risk-service-score": risk_service_score,
    "plain-http": plain_http,
    "mysql-connect": mysql_connect,
}


def run_one(step: dict[str, Any]) -> dict[str, Any]:
    """One attack of a plan: what the network let through, then the client's outcome."""
    started = time.monotonic()
    hosts, port = list(step["hosts"]), int(step["port"])
    reaches = {host: reach(host, port) for host in hosts}
    if "open" not in reaches.values():
        outcome = Outcome.REFUSED if Outcome.REFUSED in reaches.values() else Outcome.DROPPED
        detail = ", ".join(f"{host} {value}" for host, value in reaches.items())
        # The real client too, bounded: it must fail the same way.
        client_outcome, client_detail = ATTACKS[step["attack"]](hosts, port, step["params"])
        if client_outcome == Outcome.SUCCEEDED:
            outcome, detail = client_outcome, client_detail
        else:
            detail += f"; client: {client_detail}"
    else:
        outcome, detail = ATTACKS[step["attack"]](hosts, port, step["params"])
    return {
        "id": step["id"],
        "outcome": outcome,
        "detail": detail,
        "seconds": round(time.monotonic() - started, 1),
    }


def run_plan(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(run_one, plan))


def main() -> None:
    """Reads the plan (JSON) on standard input, prints the results (JSON)."""
    print(json.dumps(run_plan(json.load(sys.stdin))))


if __name__ == "__main__":
    main()
