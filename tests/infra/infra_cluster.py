"""What the checks need to know about the deployed cluster, read from the inventory."""

from __future__ import annotations

import functools
import inspect
import json
import shlex
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from lendstream import zookeeper_words
from lendstream.secrets import read_vault
from lendstream.status.cli import vault_password_file

# Ports the roles' defaults give each daemon (the web servers' below).
HDFS_NAMENODE_RPC = 8020
HDFS_DATANODE_PORTS = (9866, 9867)
HDFS_JOURNALNODE_RPC = 8485
HDFS_ZKFC = 8019
YARN_RESOURCEMANAGER_PORTS = (8032, 8030, 8031, 8033)
YARN_RESOURCEMANAGER_STANDBY_PORTS = (8033,)
YARN_RESOURCEMANAGER_TRACKER = 8031
YARN_NODEMANAGER_PORTS = (8041, 8040)
# The Hadoop daemons' web servers, (HTTP, HTTPS) ports of the hdfs and yarn roles' defaults: with
# the inventory's lendstream_tls they serve HTTPS only (playbooks/vars/hdfs.yml's
# hdfs_http_policy, yarn.yml's yarn_http_policy), else HTTP only.
HADOOP_WEB_PORTS = {
    "namenode": (9870, 9871),
    "secondarynamenode": (9868, 9869),
    "datanode": (9864, 9865),
    "journalnode": (8480, 8481),
    "resourcemanager": (8088, 8089),
    "nodemanager": (8042, 8044),
}
HTTP_TIMEOUT_S = 10


def variables(host: Any) -> dict[str, Any]:
    """The host's Ansible variables, including `groups` and `inventory_hostname`."""
    return host.ansible.get_variables()


def groups(host: Any) -> dict[str, list[str]]:
    return variables(host)["groups"]


def in_group(host: Any, group: str) -> bool:
    return variables(host)["inventory_hostname"] in groups(host).get(group, [])


def address(host: Any) -> str:
    """The node's cluster address (its inventory ansible_host)."""
    return str(variables(host)["ansible_host"])


def inventory_addresses(host: Any) -> set[str]:
    """Every inventory host's cluster address (ansible_host)."""
    runner = host.backend.ansible_runner
    return {str(runner.get_variables(name)["ansible_host"]) for name in groups(host)["all"]}


# The deployment CA on every node (role pki); https:// URLs are verified against it.
TLS_CA_FILE = "/etc/lendstream/tls/ca.crt"


@functools.cache
def inventory_vault(inventory: str) -> dict[str, str]:
    """The Vault beside ``inventory`` (pytest's --ansible-inventory), read with the password file
    `lendstream status` would use: $ANSIBLE_VAULT_PASSWORD_FILE, else the inventory's default.
    Read once per test process (each read runs ansible-vault); callers do not change it."""
    password_file = vault_password_file(Path(inventory), None)
    assert password_file is not None, f"no Vault password file for {inventory}"
    return read_vault(Path(inventory).parent, password_file)


def pipeline_tls(host: Any) -> bool:
    """Whether the inventory serves the applicant API and the risk service over HTTPS."""
    return bool(variables(host).get("lendstream_tls", False))


def pipeline_url(host: Any, port: int, path: str) -> str:
    """The node's pipeline service at ``port``: https when the inventory's lendstream_tls is on."""
    scheme = "https" if pipeline_tls(host) else "http"
    return f"{scheme}://{address(host)}:{port}{path}"


def hadoop_web_port(host: Any, daemon: str) -> int:
    """The port ``daemon``'s web server serves: its HTTPS port with lendstream_tls."""
    return HADOOP_WEB_PORTS[daemon][1 if pipeline_tls(host) else 0]


def hadoop_web_url(host: Any, node: str, daemon: str, path: str) -> str:
    """``path`` on ``daemon``'s web server on ``node`` (a name or address), as the cluster
    serves it: https with lendstream_tls (http_json and http_answer verify it with the CA)."""
    scheme = "https" if pipeline_tls(host) else "http"
    return f"{scheme}://{node}:{hadoop_web_port(host, daemon)}{path}"


def http_json(host: Any, url: str, headers: dict[str, str] | None = None) -> Any:
    """GET a JSON document from the node itself (so names resolve as the cluster resolves them);
    an https:// URL is verified against the deployment CA, host name included."""
    script = (
        "import json, ssl, sys, urllib.request; "
        "https = sys.argv[1].startswith('https:'); "
        "context = ssl.create_default_context(cafile=sys.argv[2]) if https else None; "
        "headers = {'Accept': 'application/json', **json.loads(sys.argv[3])}; "
        "request = urllib.request.Request(sys.argv[1], headers=headers); "
        f"answer = urllib.request.urlopen(request, timeout={HTTP_TIMEOUT_S}, context=context); "
        "sys.stdout.write(answer.read().decode())"
    )
    arguments = shlex.join([url, TLS_CA_FILE, json.dumps(headers or {})])
    result = host.run(f"python3 -c {shlex.quote(script)} {arguments}")
    node = variables(host)["inventory_hostname"]
    assert result.rc == 0, f"GET {url} from {node}: {result.stderr}"
    return json.loads(result.stdout)


def http_answer(host: Any, url: str, method: str = "GET") -> tuple[int, str]:
    """The status and body of a request from the node itself, error answers included; an
    https:// URL is verified against the deployment CA, host name included."""
    script = (
        "import ssl, sys, urllib.error, urllib.request; "
        "https = sys.argv[1].startswith('https:'); "
        "context = ssl.create_default_context(cafile=sys.argv[3]) if https else None; "
        "request = urllib.request.Request(sys.argv[1], method=sys.argv[2]); "
        "answer = None\n"
        "try:\n"
        f"    answer = urllib.request.urlopen(request, timeout={HTTP_TIMEOUT_S}, context=context)\n"
        "except urllib.error.HTTPError as error:\n"
        "    answer = error\n"
        "sys.stdout.write(str(answer.status) + ' ' + answer.read().decode(errors='replace'))"
    )
    arguments = shlex.join([url, method, TLS_CA_FILE])
    result = host.run(f"python3 -c {shlex.quote(script)} {arguments}")
    node = variables(host)["inventory_hostname"]
    assert result.rc == 0, f"{method} {url} from {node}: {result.stderr}"
    status, _, body = result.stdout.partition(" ")
    return int(status), body


HADOOP_CONF_DIR = "/etc/lendstream/hadoop"


def hadoop_properties(host: Any, name: str) -> dict[str, str]:
    """The properties of one of the Hadoop configuration files the roles render."""
    content = host.file(f"{HADOOP_CONF_DIR}/{name}").content_string
    root = ElementTree.fromstring(content)
    return {prop.findtext("name", ""): prop.findtext("value", "") for prop in root.iter("property")}


# Ports of the stack roles' defaults (zookeeper, kafka, hbase, storm).
ZOOKEEPER_CLIENT = 2181
ZOOKEEPER_WORDS_SOURCE = inspect.getsource(zookeeper_words)
ZOOKEEPER_ELECTION = 3888
KAFKA_BROKER = 9092
KAFKA_CONTROLLER = 9093
KAFKA_LIB = "/opt/lendstream/kafka/lib"
HBASE_MASTER_PORTS = (16000, 16010)
HBASE_MASTER_HTTP = 16010
HBASE_REGIONSERVER_PORTS = (16020, 16030)
HBASE_THRIFT = 9090
HBASE_THRIFT_INFO = 9095
STORM_NIMBUS_THRIFT = 6627
STORM_UI_HTTP = 8080


def assert_service(
    host: Any, unit: str, ports: tuple[int, ...], all_addresses: tuple[int, ...] = ()
) -> None:
    """The unit is running and enabled, and listens on the node's address on every port of
    `ports`, and on every address (0.0.0.0) on each of `all_addresses` — for daemons that have
    no bind-address setting, such as Storm's Thrift servers."""
    service = host.service(unit)
    assert service.is_running, unit
    assert service.is_enabled, unit
    for port in ports:
        assert host.socket(f"tcp://{address(host)}:{port}").is_listening, (unit, port)
    for port in all_addresses:
        assert host.socket(f"tcp://0.0.0.0:{port}").is_listening, (unit, port)


def four_letter_word(host: Any, member: str, word: str) -> str:
    """A ZooKeeper four-letter-word answer from `member`, asked from this node as root: over
    mutual TLS with the node's certificate when the client port asks for it, else in plaintext
    (lendstream.zookeeper_words, sent to the node's python3)."""
    with host.sudo():
        result = host.run(
            f"python3 -c {shlex.quote(ZOOKEEPER_WORDS_SOURCE)} {word} {ZOOKEEPER_CLIENT} "
            + shlex.quote(member)
        )
    assert result.rc == 0, f"{word} to {member}: {result.stderr}"
    answer = json.loads(str(result.stdout).partition(" ")[2] or "null")
    assert answer is not None, f"{word} to {member}: no answer"
    return str(answer)
