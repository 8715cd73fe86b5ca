"""A deployed simulated cluster as the fault suite sees it: its nodes, groups and services.

Everything runs from the controller: commands on nodes over the harness's SSH (as the deploy user,
through sudo), playbooks with the layout's inventory and Vault, and the read-only tools that must
run on a node (``lendstream.reconcile`` and :mod:`lendstream.chaos.probe`), because only the nodes
resolve the names Kafka advertises and reach their own HBase Thrift server (on 127.0.0.1 only).
Ports come from the roles' defaults, their one home.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from lendstream.cluster import REPO_ROOT, Layout, Node, load_cluster
from lendstream.kafka_access import refusing_brokers
from lendstream.secrets import (
    CA_CERT_NAME,
    current_kafka_user,
    current_kafka_users,
    default_password_file,
    read_vault,
)
from lendstream.vcluster import ssh
from lendstream.vcluster.paths import inventory_path, layout_state_dir

ANSIBLE_DIR = REPO_ROOT / "ansible"
NODE_PYTHON = "/opt/lendstream/venv/bin/python"
TOPIC = "lendstream.applicants"
DEAD_LETTER_TOPIC = "lendstream.applicants.dlq"
CONSUMER_GROUP = "lendstream-topology"
HBASE_TABLE = "members"
TOKEN_FILE = "/etc/lendstream/topology/risk-service-token"
TLS_CA_FILE = "/etc/lendstream/tls/ca.crt"  # role pki's, on every node
PLAYBOOK_TIMEOUT_S = 2400
# A journal line that tells why a daemon stopped: log4j levels, HBase's and Kafka's aborts, a JVM's
# fatal exception, systemd's lines for a main process that exited and the unit that failed.
CRASH_PATTERN = r"ERROR|FATAL|ABORTING|Exception in thread|Main process exited|Failed with result"


class ChaosError(RuntimeError):
    """A step of the fault suite could not be carried out (not a finding about the pipeline)."""


def ansible_environment(vault_password_file: Path | None, **settings: str) -> dict[str, str]:
    """The environment to run the project's Ansible from this virtualenv: its ansible.cfg, the
    inventory's Vault password file (when given), no colour, and ``settings``."""
    bin_dir = Path(sys.executable).parent
    environment = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
        NO_COLOR="1",
        **settings,
    )
    if vault_password_file is not None:
        environment["ANSIBLE_VAULT_PASSWORD_FILE"] = str(vault_password_file)
    return environment


def ansible_json_environment(vault_password_file: Path | None, **settings: str) -> dict[str, str]:
    """``ansible_environment`` with the JSON callback alone on standard output, so an ad-hoc
    call prints one JSON document (profile_tasks and the like would print around it)."""
    environment = ansible_environment(
        vault_password_file,
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        **settings,
    )
    environment.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    return environment


def run_ansible(
    argv: list[str], environment: dict[str, str], timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """Run an Ansible command (``ansible``, ``ansible-playbook``) in the project's Ansible
    directory, its output captured as text; ``subprocess.TimeoutExpired`` after ``timeout_s``.
    The exit status is the caller's to judge."""
    return subprocess.run(
        argv,
        cwd=ANSIBLE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@cache
def role_default(role: str, name: str) -> Any:
    """A role's default (defaults/main.yml): ports and unit settings have their home there."""
    defaults = yaml.safe_load((ANSIBLE_DIR / "roles" / role / "defaults" / "main.yml").read_text())
    return defaults[name]


# The Hadoop daemons' web servers (/jmx, /conf, /ws/v1): the role and the variable prefix of each
# port. With lendstream_tls the cluster's playbook serves them over HTTPS only, on the roles'
# *_https_port, with the nodes' certificates from the deployment CA (playbooks/vars/hdfs.yml's
# hdfs_http_policy, yarn.yml's yarn_http_policy); else HTTP only, on *_http_port.
HADOOP_WEB_PORTS = {
    "namenode": ("hdfs", "hdfs_namenode"),
    "datanode": ("hdfs", "hdfs_datanode"),
    "journalnode": ("hdfs", "hdfs_journalnode"),
    "resourcemanager": ("yarn", "yarn_resourcemanager"),
    "nodemanager": ("yarn", "yarn_nodemanager"),
}


def hadoop_web_port(daemon: str, tls: bool) -> tuple[str, str]:
    """(role, port variable) of ``daemon``'s web server: its HTTPS port with ``tls``."""
    role, prefix = HADOOP_WEB_PORTS[daemon]
    return role, f"{prefix}_{'https' if tls else 'http'}_port"


# The HBase Thrift server every supervisor runs, as a tool on that node reaches it: it listens on
# loopback only (the hbase role's hbase_thrift_address), so the tools that read HBase run there.
LOCAL_THRIFT_HOST = str(role_default("hbase", "hbase_thrift_address"))


@cache
def role_constant(role: str, name: str) -> Any:
    """A role's constant (vars/main.yml, the ``__``-prefixed ones), e.g. the JVM options its
    launchers share: read from there, never copied."""
    constants = yaml.safe_load((ANSIBLE_DIR / "roles" / role / "vars" / "main.yml").read_text())
    return constants[name]


@dataclass
class ChaosCluster:
    layout: Layout
    vault_password_file: Path
    logs: list[str] = field(default_factory=list)
    _ca_pem: str | None = field(default=None, repr=False)

    @classmethod
    def open(cls, layout_name: str, vault_password_file: Path | None = None) -> ChaosCluster:
        layout = load_cluster().layout(layout_name)
        if not inventory_path(layout.name).exists():
            raise ChaosError(
                f"layout {layout.name} is not deployed: make vcluster-deploy LAYOUT={layout.name}"
            )
        password_file = vault_password_file or default_password_file(layout_state_dir(layout.name))
        return cls(layout=layout, vault_password_file=password_file)

    # ---- the layout --------------------------------------------------------------------------
    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        return {group: tuple(hosts) for group, hosts in self.layout.groups().items()}

    def hosts(self, group: str) -> tuple[str, ...]:
        return self.groups.get(group, ())

    @property
    def node_names(self) -> tuple[str, ...]:
        """Every node of the layout, in its order (the inventory's `all`)."""
        return tuple(node.name for node in self.layout.nodes)

    def node(self, name: str) -> Node:
        return self.layout.node(name)

    def address(self, name: str) -> str:
        return str(self.node(name).address)

    @property
    def tls(self) -> bool:
        """Whether the inventory serves the applicant API and the risk service over HTTPS
        (``lendstream_tls`` in its ``all.vars``; docs/security.md)."""
        inventory = yaml.safe_load(inventory_path(self.layout.name).read_text()) or {}
        return bool(inventory.get("all", {}).get("vars", {}).get("lendstream_tls", False))

    @property
    def http_scheme(self) -> str:
        return "https" if self.tls else "http"

    def vault(self) -> dict[str, str]:
        """The layout's Vault, decrypted with its password file (the deployment's secrets)."""
        return read_vault(layout_state_dir(self.layout.name), self.vault_password_file)

    def tls_context(self) -> ssl.SSLContext | None:
        """For the controller's own requests to the pipeline's services and the Hadoop web
        servers: the deployment CA from the Vault (host names checked; read once), or None when
        they speak plain HTTP."""
        if not self.tls:
            return None
        if self._ca_pem is None:
            self._ca_pem = self.vault()[CA_CERT_NAME]
        return ssl.create_default_context(cadata=self._ca_pem)

    def hadoop_web_url(self, host: str, daemon: str, path: str) -> str:
        """``path`` on ``daemon``'s web server on ``host``, by address, as the cluster serves it
        (https with lendstream_tls: read it with ``tls_context()``)."""
        role, variable = hadoop_web_port(daemon, self.tls)
        return f"{self.http_scheme}://{self.address(host)}:{role_default(role, variable)}{path}"

    # ---- commands ----------------------------------------------------------------------------
    def sh(self, host: str, command: str, timeout_s: float = 60, check: bool = True) -> str:
        """Run a shell command on a node as root; returns its standard output."""
        result = ssh.run(
            self.layout, self.node(host), f"sudo -n sh -c {shlex.quote(command)}", timeout_s
        )
        if check and result.returncode != 0:
            raise ChaosError(
                f"{host}: `{command}` exited {result.returncode}: {result.stderr[-800:]}"
            )
        return result.stdout

    def kill_unit(self, host: str, unit: str) -> None:
        """kill -9 every process of a systemd unit (systemd restarts it: Restart=on-failure)."""
        self.sh(host, f"systemctl kill --signal=SIGKILL {unit}")

    def systemctl(self, host: str, verb: str, unit: str) -> None:
        self.sh(host, f"systemctl {verb} {unit}", timeout_s=180)

    def unit_active(self, host: str, unit: str) -> bool:
        return self.sh(host, f"systemctl is-active {unit}", check=False).strip() == "active"

    def unit_restarts(self, host: str, unit: str) -> int:
        return int(self.sh(host, f"systemctl show -P NRestarts {unit}").strip() or 0)

    def every_unit_restarts(self) -> dict[str, int]:
        """Every lendstream unit's automatic restarts on every node, by "host unit" (systemd's
        NRestarts: a restart asked for by systemctl does not count, a crash Restart= answered
        does); one command per node."""
        counts = {}
        for host in self.node_names:
            shown = self.sh(host, "systemctl show --property=Id,NRestarts 'lendstream-*'")
            for block in shown.strip().split("\n\n"):
                fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
                if "Id" in fields:
                    counts[f"{host} {fields['Id']}"] = int(fields.get("NRestarts") or 0)
        return counts

    def crashes_since(self, before: dict[str, int]) -> dict[str, int]:
        """The units systemd restarted after a crash since ``before`` (every_unit_restarts taken
        earlier), with how many times, by "host unit"."""
        return {
            unit: count - before.get(unit, 0)
            for unit, count in self.every_unit_restarts().items()
            if count > before.get(unit, 0)
        }

    def crash_lines(self, host: str, unit: str, lines: int = 12) -> list[str]:
        """The last lines of a unit's journal that say why it stopped (errors, aborts, fatal
        exceptions, systemd's exit lines): what a crash leaves behind for a failure message."""
        shown = self.sh(
            host,
            f"journalctl -u {shlex.quote(unit)} --no-pager -q -o short-iso -n 5000"
            f" | grep -E {shlex.quote(CRASH_PATTERN)} | tail -n {lines}",
            check=False,
        )
        return shown.splitlines()

    def crash_report(self, crashed: dict[str, int]) -> str:
        """Crashed units (crashes_since) and their journals' lines that say why, one a line."""
        lines = [f"{unit}: {count} restart(s) after a crash" for unit, count in crashed.items()]
        for host_unit in crashed:
            host, unit = host_unit.split(" ", 1)
            lines.extend(self.crash_lines(host, unit))
        return "\n".join(lines)

    def wait_port(self, host: str, port: int, timeout_s: float) -> float:
        """Seconds until host:port accepts a TCP connection (bounded)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            try:
                with socket.create_connection((self.address(host), port), timeout=2):
                    return time.monotonic() - started
            except OSError:
                time.sleep(1)
        raise ChaosError(f"{host}:{port} still closed after {timeout_s:.0f} s")

    def wait_local_port(
        self, host: str, port: int, timeout_s: float, address: str = "127.0.0.1"
    ) -> float:
        """Seconds until ``address:port`` accepts a TCP connection, asked on the node itself: a
        loopback-only server (HBase Thrift), or a port the firewall keeps the controller out of
        (pass the node's cluster address); bounded."""
        started = time.monotonic()
        probe = f"until nc -z {address} {port}; do sleep 1; done"
        try:
            self.sh(host, f"timeout {int(timeout_s)} sh -c {shlex.quote(probe)}", timeout_s + 30)
        except ChaosError as error:
            raise ChaosError(
                f"{host}: {address}:{port} still closed after {timeout_s:.0f} s ({error})"
            ) from None
        return time.monotonic() - started

    def environment(self) -> dict[str, str]:
        return ansible_environment(self.vault_password_file)

    def playbook(self, name: str, *extra: str, timeout_s: float = PLAYBOOK_TIMEOUT_S) -> str:
        argv = ["ansible-playbook", "-i", str(inventory_path(self.layout.name)), name, *extra]
        result = run_ansible(argv, self.environment(), timeout_s)
        self.logs.append(f"$ {shlex.join(argv)}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            raise ChaosError(f"{name} failed:\n{result.stdout[-4000:]}{result.stderr[-1500:]}")
        return result.stdout

    def on_a_node(self, argv: list[str], timeout_s: float = 1200) -> dict[str, Any]:
        """Run a read-only tool with the node virtualenv on the first supervisor that answers
        and parse the JSON document it prints (whatever its exit status: the reconcile exits 1
        when it finds a difference, which is a finding, not a failure to run). A tool that
        prints none (e.g. its node's loopback Thrift server is down) is run on the next."""
        failures = []
        for host in self.hosts("storm_supervisor"):
            command = f"sudo -n {shlex.join(argv)}"
            try:
                result = ssh.run(self.layout, self.node(host), command, timeout_s)
            except subprocess.TimeoutExpired:
                failures.append(f"{host}: no answer in {timeout_s:.0f} s")
                continue
            output = result.stdout
            if "{" not in output:
                failures.append(f"{host}: exit {result.returncode}: {result.stderr[-800:]}")
                continue
            document: dict[str, Any] = json.loads(
                output[output.index("{") : output.rindex("}") + 1]
            )
            return document
        raise ChaosError("no supervisor could run it: " + "; ".join(failures))

    # ---- the pipeline's read-only checks -------------------------------------------------------
    def bootstrap(self) -> str:
        port = role_default("kafka", "kafka_broker_port")
        return ",".join(f"{host}:{port}" for host in self.hosts("kafka_broker"))

    def reconcile(self, drain_timeout_s: float = 900) -> dict[str, Any]:
        """``lendstream.reconcile --json`` on a node: its summary."""
        risk_port = role_default("risk_service", "risk_service_port")
        argv = [
            NODE_PYTHON,
            *("-m", "lendstream.reconcile", "--json"),
            *("--bootstrap", self.bootstrap()),
            *("--topic", TOPIC, "--dead-letter-topic", DEAD_LETTER_TOPIC),
            *("--group", CONSUMER_GROUP),
            *("--hbase-hosts", LOCAL_THRIFT_HOST),
            *("--hbase-port", str(role_default("hbase", "hbase_thrift_port"))),
            *("--table", HBASE_TABLE),
            *(
                "--risk-url",
                ",".join(
                    f"{self.http_scheme}://{h}:{risk_port}" for h in self.hosts("risk_service")
                ),
            ),
            *("--risk-token-file", TOKEN_FILE),
            *(("--risk-ca-file", TLS_CA_FILE) if self.tls else ()),
            *("--drain-timeout-s", str(int(drain_timeout_s))),
        ]
        return self.on_a_node(argv, timeout_s=drain_timeout_s + 300)

    def kafka_sign_in_refusals(self) -> dict[str, list[str]]:
        """Each current Kafka user (the Vault's slot) that a broker refuses, with the brokers
        that do, each broker asked alone by its address (which its certificate names) from here;
        empty when every broker accepts every user. A cluster without SCRAM users has none."""
        if not self.tls:
            return {}
        port = role_default("kafka", "kafka_broker_port")
        brokers = [f"{self.address(host)}:{port}" for host in self.hosts("kafka_broker")]
        with tempfile.TemporaryDirectory(prefix="lendstream-chaos-kafka-") as scratch:
            ca_file = Path(scratch) / "ca.crt"
            vault = self.vault()
            ca_file.write_text(vault[CA_CERT_NAME])
            refusals = refusing_brokers(brokers, str(ca_file), current_kafka_users(vault))
        return {user: found for user, found in refusals.items() if found}

    def set_kafka_password(self, secret: str, password: str) -> str:
        """Sets the password of the current Kafka user of Vault ``secret`` (a key of
        secrets.KAFKA_USERS) on the brokers, not in the Vault: a change behind the role's back,
        made with the role's own tool (lendstream.kafka_access, on a broker's node, which
        resolves the brokers' advertised names; the request on its stdin) as the current
        administrator. The user's name."""
        vault = self.vault()
        user, _ = current_kafka_user(vault, secret)
        admin_user, admin_password = current_kafka_user(vault, "vault_kafka_admin_password")
        request = {
            "bootstrap": self.bootstrap(),
            "ca_cert": vault[CA_CERT_NAME],
            "admin_user": admin_user,
            "admin_password": admin_password,
            "users": [{"name": user, "password": password}],
        }
        host = self.hosts("kafka_broker")[0]
        result = ssh.run(
            self.layout,
            self.node(host),
            f"sudo -n {NODE_PYTHON} -m lendstream.kafka_access apply",
            timeout_s=120,
            stdin=json.dumps(request),
        )
        if result.returncode != 0:
            raise ChaosError(f"{host}: lendstream.kafka_access refused: {result.stderr[-800:]}")
        return user

    def topic_size(self, topic: str = TOPIC) -> int:
        argv = [NODE_PYTHON, "-m", "lendstream.chaos.probe", "topic-size"]
        argv += ["--bootstrap", self.bootstrap(), "--topic", topic]
        return int(self.on_a_node(argv, timeout_s=120)["records"])

    def stored_delays(self, prefix: str) -> list[tuple[int, int]]:
        argv = [NODE_PYTHON, "-m", "lendstream.chaos.probe", "delays", "--prefix", prefix]
        argv += ["--hbase-hosts", LOCAL_THRIFT_HOST]
        argv += ["--hbase-port", str(role_default("hbase", "hbase_thrift_port"))]
        rows = self.on_a_node(argv, timeout_s=300)["rows"]
        return [(int(kafka_ms), int(stored_ms)) for kafka_ms, stored_ms in rows]
