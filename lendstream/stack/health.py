"""Protocol-level health checks: each asks the daemon a real question and judges the answer."""

from __future__ import annotations

import socket
import warnings
from dataclasses import dataclass

import happybase
import pymysql
import requests
from kafka.admin import KafkaAdminClient

with warnings.catch_warnings():
    # streamparse imports fabric/paramiko and pkg_resources, which warn about their own
    # deprecations on every import; nothing here can act on them.
    warnings.simplefilter("ignore")
    from streamparse.util import get_nimbus_client

from lendstream.stack import provision
from lendstream.stack.layout import StackLayout
from lendstream.stack.mysql_admin import admin_credentials, run_as_socket_root

CHECK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


def mysql_socket_answers(layout: StackLayout) -> Health:
    """The server answers `SELECT 1` over its unix socket (before the admin account exists)."""
    if not (layout.component_dir("mysql") / "run" / "mysqld.sock").exists():
        return Health(False, "no socket yet")
    result = run_as_socket_root(layout, "SELECT 1;")
    if result.returncode == 0 and result.stdout.strip() == "1":
        return Health(True, "answers on its socket")
    return Health(False, result.stderr.strip() or "no answer")


def mysql_admin_select(layout: StackLayout) -> Health:
    """`SELECT 1` over TCP as the stack's admin account."""
    credentials = admin_credentials(layout)
    try:
        connection = pymysql.connect(
            host=layout.host,
            port=layout.ports.mysql,
            user=credentials.user,
            password=credentials.password,
            connect_timeout=CHECK_TIMEOUT_S,
            read_timeout=CHECK_TIMEOUT_S,
        )
    except pymysql.MySQLError as error:
        return Health(False, f"connect failed: {error}")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1, VERSION()")
            row = cursor.fetchone()
    finally:
        connection.close()
    if row and row[0] == 1:
        return Health(True, f"SELECT 1 ok ({row[1]})")
    return Health(False, f"unexpected answer {row!r}")


def zookeeper_four_letter(layout: StackLayout, word: str) -> str:
    with socket.create_connection(
        (layout.host, layout.ports.zookeeper), timeout=CHECK_TIMEOUT_S
    ) as connection:
        connection.sendall(word.encode())
        chunks = []
        while chunk := connection.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def zookeeper_ruok_and_mode(layout: StackLayout) -> Health:
    """`ruok` answers `imok`, and `srvr` reports a serving mode (standalone, leader, follower)."""
    if zookeeper_four_letter(layout, "ruok") != "imok":
        return Health(False, "ruok got no imok")
    modes = [
        line.split(":", 1)[1].strip()
        for line in zookeeper_four_letter(layout, "srvr").splitlines()
        if line.startswith("Mode:")
    ]
    if modes and modes[0] in ("standalone", "leader", "follower", "observer"):
        return Health(True, f"imok, mode {modes[0]}")
    return Health(False, f"srvr reports no serving mode ({modes})")


def kafka_brokers(layout: StackLayout) -> Health:
    """The admin client's cluster metadata lists at least one broker."""
    admin = KafkaAdminClient(
        bootstrap_servers=f"{layout.host}:{layout.ports.kafka}",
        request_timeout_ms=int(CHECK_TIMEOUT_S * 1000),
    )
    try:
        cluster = admin.describe_cluster()
    finally:
        admin.close()
    brokers = cluster.get("brokers", [])
    if brokers:
        return Health(True, f"{len(brokers)} broker(s), cluster {cluster.get('cluster_id')}")
    return Health(False, "metadata lists no broker")


def kafka_brokers_and_topics(layout: StackLayout) -> Health:
    brokers = kafka_brokers(layout)
    if not brokers.ok:
        return brokers
    admin = KafkaAdminClient(
        bootstrap_servers=f"{layout.host}:{layout.ports.kafka}",
        request_timeout_ms=int(CHECK_TIMEOUT_S * 1000),
    )
    try:
        present = set(admin.list_topics())
    finally:
        admin.close()
    missing = [t.name for t in provision.kafka_topics(layout) if t.name not in present]
    if missing:
        return Health(False, f"{brokers.detail}; topics missing: {missing}")
    return Health(True, f"{brokers.detail}; topics present")


def hbase_thrift_tables(layout: StackLayout) -> Health:
    """happybase lists the tables over Thrift 1 (the master must be serving for that)."""
    connection = happybase.Connection(
        host=layout.host, port=layout.ports.hbase_thrift, timeout=int(CHECK_TIMEOUT_S * 1000)
    )
    try:
        tables = sorted(name.decode() for name in connection.tables())
    finally:
        connection.close()
    return Health(True, f"thrift lists tables {tables}")


def hbase_thrift_tables_present(layout: StackLayout) -> Health:
    listed = hbase_thrift_tables(layout)
    missing = [t.name for t in provision.hbase_tables(layout) if t.name not in listed.detail]
    if missing:
        return Health(False, f"{listed.detail}; missing: {missing}")
    return listed


def storm_cluster(layout: StackLayout) -> Health:
    """Nimbus answers getClusterInfo with ≥1 supervisor; the UI serves its cluster summary."""
    client = get_nimbus_client(
        host=layout.host, port=layout.ports.storm_nimbus, timeout=int(CHECK_TIMEOUT_S * 1000)
    )
    try:
        summary = client.getClusterInfo()
    finally:
        client._iprot.trans.close()
    supervisors = summary.supervisors or []
    if not supervisors:
        return Health(False, "nimbus answers but reports no supervisor")
    free_slots = sum(s.num_workers - s.num_used_workers for s in supervisors)
    nimbus = f"nimbus: {len(supervisors)} supervisor(s), {free_slots} free slot(s)"
    response = requests.get(
        f"http://{layout.host}:{layout.ports.storm_ui}/api/v1/cluster/summary",
        timeout=CHECK_TIMEOUT_S,
    )
    if response.status_code != 200:
        return Health(False, f"UI answered HTTP {response.status_code}")
    version = response.json().get("stormVersion", "?")
    return Health(True, f"{nimbus}; UI: Storm {version}")
