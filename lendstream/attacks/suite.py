"""The attack plan for a deployed layout, who runs it, and the verdicts.

Two attackers:

- **the probe** (:mod:`lendstream.vcluster.probe`): a namespace on the layout's bridge at an
  address no inventory names. Every attack must fail; the firewall should drop it before any
  credential is asked for.
- **a member**: an unprivileged login (the deploy user, no sudo) on a cluster node, which the
  firewall lets in. Where the deployment authenticates (``lendstream_tls``: the applicant API
  and the risk service's bearer tokens over HTTPS, MariaDB's ``REQUIRE SSL``, Kafka's SASL_SSL
  with SCRAM and ACLs, Storm's znodes behind ZooKeeper digest ACLs; on every cluster HDFS and
  YARN: WebHDFS refuses named users, the ResourceManager's REST API application submission, the
  NameNode an RPC from an address outside hadoop-policy.xml's hosts) the attack must be denied on
  its own. HBase Thrift listens on each node's loopback only (the hbase role's
  hbase_thrift_address; happybase has neither TLS nor SASL): another node's must not answer at
  all. Where nothing is enforced yet (ZooKeeper's other znodes, nimbus, WebHDFS naming no user,
  the member's own node's loopback Thrift; the TLS rows without ``lendstream_tls``), the row says
  "not enforced yet" and nothing is asserted.

Hosts and ports come from the layout (cluster.yml) and the roles' defaults.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lendstream.attacks import clients
from lendstream.attacks.capture import text_table
from lendstream.attacks.clients import Outcome
from lendstream.chaos.cluster import (
    NODE_PYTHON,
    TLS_CA_FILE,
    TOPIC,
    ChaosCluster,
    hadoop_web_port,
    role_default,
)
from lendstream.secrets import read_vault
from lendstream.vcluster.paths import layout_state_dir, ssh_config_path
from lendstream.vcluster.probe import Probe

CLIENTS_SOURCE = Path(clients.__file__).read_text()
RUN_TIMEOUT_S = 120  # a whole plan, attacks in parallel, each bounded by clients' timeouts

# What an attack must come to.
FAILS = "fails"  # any outcome but success (the probe: the network should stop it)
DENIED = Outcome.DENIED
PLAINTEXT_REFUSED = Outcome.PLAINTEXT_REFUSED
NOT_ENFORCED = "not enforced yet"  # informational: succeeds today, nothing asserted

PASS = "pass"
FAIL = "FAIL"


@dataclass(frozen=True)
class Attack:
    name: str
    origin: str  # "probe" or the member node's name
    attack: str  # a key of clients.ATTACKS
    hosts: tuple[
        str, ...
    ]  # as the origin reaches them: addresses from the probe, names on a member
    port: int
    expected: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"{','.join(self.hosts)}:{self.port}"

    def step(self, index: int) -> dict[str, Any]:
        return {
            "id": index,
            "attack": self.attack,
            "hosts": list(self.hosts),
            "port": self.port,
            "params": self.params,
        }


@dataclass(frozen=True)
class Finding:
    attack: Attack
    outcome: str
    detail: str
    seconds: float

    @property
    def verdict(self) -> str:
        expected = self.attack.expected
        if expected == NOT_ENFORCED:
            return NOT_ENFORCED if self.outcome == Outcome.SUCCEEDED else "check: did not succeed"
        if expected == FAILS:
            return PASS if self.outcome != Outcome.SUCCEEDED else FAIL
        return PASS if self.outcome == expected else FAIL

    def as_dict(self) -> dict[str, Any]:
        return {
            "attack": self.attack.name,
            "origin": self.attack.origin,
            "target": self.attack.target,
            "expected": self.attack.expected,
            "observed": self.outcome,
            "verdict": self.verdict,
            "detail": self.detail,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class Targets:
    """Who serves what, and on which port."""

    cluster: ChaosCluster

    def hosts(self, group: str) -> tuple[str, ...]:
        return self.cluster.hosts(group)

    def addresses(self, group: str) -> tuple[str, ...]:
        return tuple(self.cluster.address(host) for host in self.hosts(group))

    @staticmethod
    def port(role: str, name: str) -> int:
        return int(role_default(role, name))

    def service_port(self, service: tuple[str, str, str]) -> int:
        """The port of a (group, role, port variable) service; a Hadoop web server's
        (HADOOP_WEB: its daemon in place of the variable) is its HTTPS port with lendstream_tls."""
        _group, role, variable = service
        if service in HADOOP_WEB:
            return self.port(*hadoop_web_port(variable, self.cluster.tls))
        return self.port(role, variable)

    def web_params(self, service: tuple[str, str, str], verified: bool) -> dict[str, Any]:
        """How a client speaks to a Hadoop web server: https with lendstream_tls, verified
        against the deployment CA when ``verified`` (a member has the CA; the probe does not)."""
        if service not in HADOOP_WEB or not self.cluster.tls:
            return {}
        return {"scheme": "https", **({"ca_file": TLS_CA_FILE} if verified else {})}


# (group, role, port variable) of each service attacked.
KAFKA = ("kafka_broker", "kafka", "kafka_broker_port")
THRIFT = ("hbase_thrift", "hbase", "hbase_thrift_port")
ZOOKEEPER = ("zookeeper", "zookeeper", "zookeeper_client_port")
ZOOKEEPER_QUORUM = ("zookeeper", "zookeeper", "zookeeper_quorum_port")
ZOOKEEPER_ELECTION = ("zookeeper", "zookeeper", "zookeeper_election_port")
NIMBUS = ("storm_nimbus", "storm", "storm_nimbus_thrift_port")
NAMENODE_RPC = ("hdfs_namenode", "hdfs", "hdfs_namenode_rpc_port")
# The Hadoop web servers, by daemon in place of the port variable (Targets.service_port): HTTPS
# only with lendstream_tls (lendstream.chaos.cluster.hadoop_web_port).
NAMENODE = ("hdfs_namenode", "hdfs", "namenode")
RESOURCEMANAGER = ("yarn_resourcemanager", "yarn", "resourcemanager")
HADOOP_WEB = (
    NAMENODE,
    ("hdfs_datanode", "hdfs", "datanode"),
    ("hdfs_journalnode", "hdfs", "journalnode"),
    RESOURCEMANAGER,
    ("yarn_nodemanager", "yarn", "nodemanager"),
)
# What a plain HTTP request asks each for (any HTTP answer would show it served in clear).
HADOOP_WEB_PATHS = {"resourcemanager": "/ws/v1/cluster/info", "nodemanager": "/ws/v1/node/info"}
MYSQL = ("mysql", "mysql", "mysql_port")
API = ("applicant_api", "applicant_api", "applicant_api_port")
RISK = ("risk_service", "risk_service", "risk_service_port")


def _unauthenticated(service: tuple[str, str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(what, client attack, params) of the services that have no authentication yet."""
    group = service[0]
    catalogue: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
        "kafka_broker": [
            ("produce to the applicant topic", "kafka-produce", {"topic": TOPIC}),
            ("consume the applicant topic", "kafka-consume", {"topic": TOPIC}),
            ("delete a topic", "kafka-delete-topic", {}),
        ],
        "hbase_thrift": [("list HBase tables over Thrift", "hbase-thrift-tables", {})],
        "zookeeper": [("delete a znode", "zookeeper-delete-znode", {})],
        "storm_nimbus": [
            ("nimbus getClusterInfo", "nimbus-cluster-info", {}),
            ("nimbus submit (beginFileUpload)", "nimbus-submit-topology", {}),
            ("nimbus killTopology", "nimbus-kill-topology", {}),
        ],
        "hdfs_namenode": [
            ("WebHDFS LISTSTATUS / as user hdfs", "webhdfs-liststatus", {"user": "hdfs"}),
            ("WebHDFS LISTSTATUS /, no user named", "webhdfs-liststatus", {}),
        ],
        "yarn_resourcemanager": [("YARN new-application", "yarn-new-application", {})],
    }
    return catalogue[group]


UNAUTHENTICATED = (KAFKA, THRIFT, ZOOKEEPER, NIMBUS, NAMENODE, RESOURCEMANAGER)


def probe_plan(targets: Targets) -> list[Attack]:
    """Everything, from the stranger on the bridge, by address: every attack must fail."""
    attacks = []
    for service in UNAUTHENTICATED:
        group = service[0]
        hosts = targets.addresses(group)
        for what, attack, params in _unauthenticated(service):
            # A single host where the client talks to one; Kafka bootstraps from every broker.
            chosen = hosts if group in {"kafka_broker", "hdfs_namenode"} else hosts[:1]
            attacks.append(
                Attack(
                    f"{what}, no credentials",
                    "probe",
                    attack,
                    chosen,
                    targets.service_port(service),
                    FAILS,
                    {**params, **targets.web_params(service, verified=False)},
                )
            )
    for what, attack, params in _unauthenticated(KAFKA):
        attacks.append(
            Attack(
                f"{what}, wrong SCRAM credentials",
                "probe",
                attack,
                targets.addresses(KAFKA[0]),
                targets.port(KAFKA[1], KAFKA[2]),
                FAILS,
                {**params, "credentials": "wrong"},
            )
        )
    attacks += _zookeeper_quorum_attacks(targets, "probe", targets.addresses(ZOOKEEPER[0]), FAILS)
    attacks += _hbase_rpc_attacks(targets, None, FAILS)
    group, role, variable = NAMENODE_RPC
    attacks.append(
        Attack(
            "Hadoop RPC (getServerDefaults)",
            "probe",
            "hadoop-rpc-call",
            targets.addresses(group)[:1],
            targets.port(role, variable),
            FAILS,
        )
    )
    mysql_port = targets.port(MYSQL[1], MYSQL[2])
    attacks.append(
        Attack(
            "MariaDB login",
            "probe",
            "mysql-connect",
            targets.addresses(MYSQL[0]),
            mysql_port,
            FAILS,
        )
    )
    tls = targets.cluster.tls
    for service, attack, what in (
        (API, "applicant-api-list", "applicant API"),
        (RISK, "risk-service-score", "risk service"),
    ):
        group, role, variable = service
        port = targets.port(role, variable)
        for host in targets.addresses(group):
            attacks.append(
                Attack(
                    f"{what} without a token",
                    "probe",
                    attack,
                    (host,),
                    port,
                    FAILS,
                    {"scheme": "https" if tls else "http"},
                )
            )
            attacks.append(
                Attack(f"{what} in plain HTTP", "probe", "plain-http", (host,), port, FAILS)
            )
    return attacks


def member_node(targets: Targets) -> str:
    """The member that attacks: a node without the applicant API (so its requests cross the
    bridge), else the first node."""
    api_hosts = set(targets.hosts(API[0]))
    names = [node.name for node in targets.cluster.layout.nodes]
    return next((name for name in names if name not in api_hosts), names[0])


def _away_from(member: str, hosts: tuple[str, ...]) -> tuple[str, ...]:
    """The group's hosts other than the member first (traffic that crosses the bridge)."""
    return tuple(sorted(hosts, key=lambda host: host == member))


def member_plan(targets: Targets, secrets: dict[str, str]) -> list[Attack]:
    """From a cluster member, by inventory name: the credential layer on its own."""
    member = member_node(targets)
    tls = targets.cluster.tls
    attacks = []
    for service in UNAUTHENTICATED:
        group = service[0]
        if tls and service == KAFKA:
            attacks += _member_kafka_attacks(targets, member)
            continue
        hosts = _away_from(member, targets.hosts(group))
        for what, attack, params in _unauthenticated(service):
            if attack in {"kafka-produce", "nimbus-submit-topology"}:
                continue  # would change the cluster: shown from the probe only
            chosen = (
                hosts
                if group
                in {"kafka_broker", "hdfs_namenode", "yarn_resourcemanager", "storm_nimbus"}
                else hosts[:1]
            )
            expected, sent = _member_expectation(attack, params), params
            if tls and group == ZOOKEEPER[0]:
                # The client port wants mutual TLS: TLS without a client certificate.
                expected, sent = DENIED, {**params, "ca_file": TLS_CA_FILE}
            attacks.append(
                Attack(
                    f"{what}, no credentials",
                    member,
                    attack,
                    chosen,
                    targets.service_port(service),
                    expected,
                    {**sent, **targets.web_params(service, verified=True)},
                )
            )
    attacks += _member_local_thrift_attacks(targets, member)
    attacks += _member_hadoop_rpc_attacks(targets, member)
    attacks += _member_storm_znode_attacks(targets, member)
    attacks += _zookeeper_quorum_attacks(
        targets,
        member,
        _away_from(member, targets.hosts(ZOOKEEPER[0])),
        PLAINTEXT_REFUSED if tls else NOT_ENFORCED,
    )
    attacks += _hbase_rpc_attacks(targets, member, PLAINTEXT_REFUSED if tls else NOT_ENFORCED)
    if not tls:
        return attacks
    attacks += _member_hadoop_web_plaintext_attacks(targets, member)
    https = {"scheme": "https", "ca_file": TLS_CA_FILE}
    for service, attack, what in (
        (API, "applicant-api-list", "applicant API"),
        (RISK, "risk-service-score", "risk service"),
    ):
        group, role, variable = service
        port = targets.port(role, variable)
        for host in _away_from(member, targets.hosts(group))[:1]:
            attacks += [
                Attack(f"{what} without a token", member, attack, (host,), port, DENIED, https),
                Attack(
                    f"{what} with a wrong token",
                    member,
                    attack,
                    (host,),
                    port,
                    DENIED,
                    {**https, "token": clients.WRONG_TOKEN},
                ),
                Attack(
                    f"{what} in plain HTTP", member, "plain-http", (host,), port, PLAINTEXT_REFUSED
                ),
            ]
    mysql_port = targets.port(MYSQL[1], MYSQL[2])
    api_user = str(role_default("applicant_api", "applicant_api_mysql_user"))
    attacks.append(
        Attack(
            "MariaDB, the API's account and password, TLS off",
            member,
            "mysql-connect",
            targets.hosts(MYSQL[0]),
            mysql_port,
            DENIED,
            {"user": api_user, "password": secrets["vault_applicant_api_mysql_password"]},
        )
    )
    return attacks


def _member_expectation(attack: str, params: dict[str, Any]) -> str:
    """What a member's unauthenticated attack must come to. HDFS and YARN refuse on every cluster
    (the roles' defaults, not lendstream_tls): WebHDFS any named user (the hdfs role's user
    pattern; Hadoop 3.4 cannot turn WebHDFS off, so a request naming no user still lists as the
    static web user), the ResourceManager's REST new-application (the yarn role). Another node's
    HBase Thrift server must not answer: it listens on that node's loopback only (the hbase
    role's hbase_thrift_address) and no firewall rule opens its port."""
    if attack == "yarn-new-application" or (attack == "webhdfs-liststatus" and params.get("user")):
        return DENIED
    if attack == "hbase-thrift-tables":
        return FAILS
    return NOT_ENFORCED


def _member_hadoop_web_plaintext_attacks(targets: Targets, member: str) -> list[Attack]:
    """With lendstream_tls every Hadoop web server serves HTTPS only (the hdfs and yarn roles'
    HTTPS_ONLY): a plain HTTP request to its HTTPS port, from the member to another node's, gets
    no HTTP answer."""
    attacks = []
    for service in HADOOP_WEB:
        group, _role, daemon = service
        hosts = _away_from(member, targets.hosts(group))[:1]
        if not hosts:
            continue  # e.g. JournalNodes without NameNode HA
        attacks.append(
            Attack(
                f"{daemon} web server in plain HTTP",
                member,
                "plain-http",
                hosts,
                targets.service_port(service),
                PLAINTEXT_REFUSED,
                {"path": HADOOP_WEB_PATHS.get(daemon, "/jmx")},
            )
        )
    return attacks


def _member_local_thrift_attacks(targets: Targets, member: str) -> list[Attack]:
    """The member's own node's Thrift server, on its loopback: the save bolts' path, which any
    login on the node can also take (happybase has no authentication): shown, not asserted."""
    if member not in targets.hosts(THRIFT[0]):
        return []
    return [
        Attack(
            "list HBase tables over the member's own loopback Thrift",
            member,
            "hbase-thrift-tables",
            (str(role_default("hbase", "hbase_thrift_address")),),
            targets.port(THRIFT[1], THRIFT[2]),
            NOT_ENFORCED,
        )
    ]


def _member_hadoop_rpc_attacks(targets: Targets, member: str) -> list[Attack]:
    """Hadoop RPC from an address outside the inventory that the firewall lets in: the member's
    loopback address to the NameNode on its own host (when it has one). The NameNode's
    service-level authorization (hadoop-policy.xml's hosts) must refuse it by itself."""
    group, role, variable = NAMENODE_RPC
    if member not in targets.hosts(group):
        return []
    return [
        Attack(
            "Hadoop RPC (getServerDefaults) from 127.0.0.1, outside hadoop-policy.xml's hosts",
            member,
            "hadoop-rpc-call",
            (member,),
            targets.port(role, variable),
            DENIED,
            {"source": "127.0.0.1"},
        )
    ]


def _member_storm_znode_attacks(targets: Targets, member: str) -> list[Attack]:
    """Storm's znodes: with lendstream_tls they are creator-only (the storm role's ZooKeeper digest
    authentication), so deleting under Storm's root is denied with no or a wrong password."""
    group, role, variable = ZOOKEEPER
    host = _away_from(member, targets.hosts(group))[:1]
    port = targets.port(role, variable)
    tls = targets.cluster.tls
    # With lendstream_tls the client port wants mutual TLS: the attacker speaks TLS (it has no
    # client certificate) and is refused before any ACL is asked.
    storm_root = {"parent": str(role_default("storm", "storm_zookeeper_root"))} | (
        {"ca_file": TLS_CA_FILE} if tls else {}
    )
    anonymous = Attack(
        "delete a znode under Storm's root, no credentials",
        member,
        "zookeeper-delete-znode",
        host,
        port,
        DENIED if tls else NOT_ENFORCED,
        storm_root,
    )
    if not tls:
        return [anonymous]
    user = str(role_default("storm", "storm_zookeeper_auth_user"))
    wrong = {**storm_root, "digest": f"{user}:{clients.WRONG_PASSWORD}"}
    return [
        anonymous,
        Attack(
            "delete a znode under Storm's root, wrong digest password",
            member,
            "zookeeper-delete-znode",
            host,
            port,
            DENIED,
            wrong,
        ),
    ]


def _zookeeper_quorum_attacks(
    targets: Targets, origin: str, hosts: tuple[str, ...], expected: str
) -> list[Attack]:
    """A plaintext peer's opening on the members' election port (one member) and quorum port
    (every member: only the leader listens), and a plaintext client's session request on a
    member's client port. With lendstream_tls the quorum and the client port are TLS only (the
    zookeeper role's sslQuorum and client TLS), so a member hangs up on them; the probe's the
    firewall stops."""
    client = Attack(
        "plaintext session on ZooKeeper's client port",
        origin,
        "zookeeper-client-plaintext",
        hosts[:1],
        targets.port(ZOOKEEPER[1], ZOOKEEPER[2]),
        expected,
    )
    return [client] + [
        Attack(
            f"plaintext connection to ZooKeeper's {what} port",
            origin,
            "zookeeper-quorum-plaintext",
            chosen,
            targets.port(role, variable),
            expected,
        )
        for what, (_, role, variable), chosen in (
            ("election", ZOOKEEPER_ELECTION, hosts[:1]),
            ("quorum", ZOOKEEPER_QUORUM, hosts),
        )
    ]


def _hbase_rpc_attacks(targets: Targets, member: str | None, expected: str) -> list[Attack]:
    """A plaintext HBase RPC call (the read each daemon serves: clients.HBASE_RPC_READS) on a
    RegionServer's and a master's RPC port (the masters: active and
    backup), from the probe by address or from ``member`` to another node. With lendstream_tls
    HBase RPC is TLS only (the hbase role's RPC TLS, phase 3), so the server hangs up on it; the
    probe's the firewall stops."""
    attacks = []
    for what, groups, variable, call in (
        (
            "RegionServer",
            ("hbase_regionserver",),
            "hbase_regionserver_port",
            {"daemon": "regionserver"},
        ),
        (
            "master",
            ("hbase_master", "hbase_backup_master"),
            "hbase_master_port",
            {"daemon": "master"},
        ),
    ):
        names = tuple(dict.fromkeys(host for group in groups for host in targets.hosts(group)))
        if member is None:
            hosts = tuple(targets.cluster.address(name) for name in names)
        else:
            hosts = _away_from(member, names)
        attacks.append(
            Attack(
                f"plaintext HBase RPC to a {what}",
                member or "probe",
                "hbase-rpc-plaintext",
                hosts[:1],
                targets.port("hbase", variable),
                expected,
                call,
            )
        )
    return attacks


def _member_kafka_attacks(targets: Targets, member: str) -> list[Attack]:
    """With lendstream_tls Kafka is SASL_SSL with SCRAM: a plaintext client gets no answer on the
    port, and one with the deployment's CA but a wrong SCRAM user is refused at sign-in."""
    group, role, variable = KAFKA
    hosts = _away_from(member, targets.hosts(group))
    port = targets.port(role, variable)
    wrong = {"credentials": "wrong", "security_protocol": "SASL_SSL", "ca_file": TLS_CA_FILE}
    attacks = []
    for what, attack, params in _unauthenticated(KAFKA):
        if attack == "kafka-produce":
            continue  # would change the cluster: shown from the probe only
        attacks += [
            Attack(
                f"{what}, plaintext, no credentials",
                member,
                attack,
                hosts,
                port,
                PLAINTEXT_REFUSED,
                {**params, "tls_port": True},
            ),
            Attack(
                f"{what}, TLS, wrong SCRAM credentials",
                member,
                attack,
                hosts,
                port,
                DENIED,
                {**params, **wrong},
            ),
        ]
    return attacks


def _findings(plan: list[Attack], output: str) -> list[Finding]:
    results = {result["id"]: result for result in json.loads(output[output.index("[") :])}
    return [
        Finding(
            attack, results[index]["outcome"], results[index]["detail"], results[index]["seconds"]
        )
        for index, attack in enumerate(plan)
    ]


def _steps(plan: list[Attack]) -> str:
    return json.dumps([attack.step(index) for index, attack in enumerate(plan)])


def run_in_probe(probe: Probe, plan: list[Attack]) -> list[Finding]:
    """The plan from the probe namespace, with this virtualenv's clients."""
    result = subprocess.run(
        ["ip", "netns", "exec", probe.namespace, sys.executable, "-c", CLIENTS_SOURCE],
        input=_steps(plan),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=True,
    )
    return _findings(plan, result.stdout)


def run_on_member(cluster: ChaosCluster, member: str, plan: list[Attack]) -> list[Finding]:
    """The plan on a node, as the unprivileged deploy user, with the node's virtualenv; the
    plan (which may hold credentials) goes over SSH's standard input."""
    command = f"{NODE_PYTHON} -c {shlex.quote(CLIENTS_SOURCE)}"
    result = subprocess.run(
        [
            "ssh",
            "-F",
            str(ssh_config_path(cluster.layout.name)),
            "-o",
            "BatchMode=yes",
            member,
            command,
        ],
        input=_steps(plan),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0 or "[" not in result.stdout:
        raise RuntimeError(f"{member}: the attacks did not run: {result.stderr[-1500:]}")
    return _findings(plan, result.stdout)


def vault_secrets(cluster: ChaosCluster) -> dict[str, str]:
    vault = read_vault(layout_state_dir(cluster.layout.name), cluster.vault_password_file)
    return {key: str(value) for key, value in vault.items()}


def table(findings: list[Finding]) -> str:
    """attack → origin → target → expected → observed → verdict, one line each."""
    header = ("attack", "from", "target", "expected", "observed", "verdict")
    rows = [header] + [
        (f.attack.name, f.attack.origin, f.attack.target, f.attack.expected, f.outcome, f.verdict)
        for f in findings
    ]
    return text_table(rows)


def failures(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.verdict == FAIL]
