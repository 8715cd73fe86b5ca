"""The kafka role's security (``kafka_security_enabled``) against a real Kafka 4.4 it configures.

A private KRaft node (broker and controller combined, the bundle the cluster runs) on free
loopback ports, configured by the role's own ``configure`` entry point (server.properties, the
launcher that formats with the first SCRAM users, the PEM keystore from a host certificate of a
test CA made by lendstream.pki, as role pki would), checked by the role's health gate (the
quorum over mutual TLS, the broker over SASL_SSL), its topics listed by the role's ``topics``
entry point (created beforehand through the admin API, to spare a JVM start per topic), its
SCRAM users and ACLs kept by the role's ``access`` entry point. Then the clients, with the
settings each reads (lendstream.kafka_client): the producer publishes and reads back, the
topology consumes, commits in its group and writes dead letters, the exporter and the operator's
readers read; and whatever lacks a credential, a password, an ACL, TLS or the CA is refused.
"""

from __future__ import annotations

import base64
import grp
import json
import logging
import os
import re
import secrets
import socket
import ssl
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    NewTopic,
    ResourcePattern,
    ResourceType,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
)
from kafka.structs import OffsetAndMetadata
from kafka_wiring import render
from local_processes import free_port, is_listening, spawn, stop, wait_until
from render_playbook import CI_INVENTORY

from lendstream import kafka_access, pki
from lendstream.attacks import clients as attacks
from lendstream.chaos.cluster import ANSIBLE_DIR, ansible_environment, role_default, run_ansible
from lendstream.kafka_client import PLAINTEXT_SECURITY, SASL_SSL, KafkaSecurity, operator_security
from lendstream.kafka_topics import (
    KafkaReadError,
    committed_offsets,
    consumer,
    end_offsets,
    read_topic,
    wait_until_drained,
)
from lendstream.pipeline.dead_letter import DeadLetter, DeadLetterPublisher, Source
from lendstream.pipeline.topology_conf import PREFIX, TopologyConf
from lendstream.services.pipeline_exporter.reader import PipelineReader
from lendstream.services.pipeline_exporter.settings import ExporterSettings
from lendstream.services.producer.cursor import Cursor
from lendstream.services.producer.reconcile import reconcile
from lendstream.services.producer.settings import ProducerSettings
from lendstream.stack.artifacts.bundles import bundle_path
from lendstream.status import node_probe

pytestmark = pytest.mark.timeout(600)

ROLE_PLAYBOOK = Path(__file__).resolve().parent / "kafka-role.yml"
PLAYBOOK_TIMEOUT_S = 300.0
START_TIMEOUT_S = 120.0
HOST = "127.0.0.1"
# The node's certificate: its common name (so its principal User:CN=<name>) and its address.
NODE_NAME = "kafka-test.lendstream.test"
TOPIC = "lendstream.applicants"
DEAD_LETTER_TOPIC = "lendstream.applicants.dlq"
GROUP = "lendstream-topology"
USERS = ("lendstream-producer", "lendstream-topology", "lendstream-operator")
# Both slots' administrator and broker users, which playbooks/vars/kafka.yml makes super users in
# every phase of a rotation.
SUPER_USERS = ["admin", "admin-b", "broker", "broker-b"]
# A refused client fails its bootstrap within this (kafka-python tries until it runs out).
REFUSED_TIMEOUT_MS = 4_000


@dataclass(frozen=True)
class SecuredKafka:
    bootstrap: str
    controller_port: int
    tls: Path
    passwords: dict[str, str]  # user → password file
    role_variables: dict[str, Any]
    restart: Callable[[], None]  # stops the node, starts it again, waits for its listener

    @property
    def ca_file(self) -> str:
        return str(self.tls / "ca.crt")

    def security(self, user: str) -> KafkaSecurity:
        return KafkaSecurity(
            SASL_SSL, ca_file=self.ca_file, username=user, password_file=self.passwords[user]
        )

    def environment(self, user: str) -> dict[str, str]:
        """What the producer's and the exporter's units set (lendstream.kafka_client)."""
        return {"LENDSTREAM_KAFKA_BOOTSTRAP": self.bootstrap, **self.security(user).as_env()}


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def run_role(entry_points: list[str], variables: dict[str, Any]) -> str:
    """The role's entry points through ansible-playbook; its output (the play recap)."""
    bin_dir = Path(sys.executable).parent
    argv = [str(bin_dir / "ansible-playbook"), "-i", str(CI_INVENTORY), "--limit", "m1"]
    argv += ["-e", json.dumps({**variables, "kafka_test_entry_points": entry_points})]
    result = run_ansible(
        [*argv, str(ROLE_PLAYBOOK)],
        ansible_environment(None, ANSIBLE_ROLES_PATH=str(ANSIBLE_DIR / "roles")),
        PLAYBOOK_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return result.stdout


def changed_count(output: str) -> int:
    found = re.search(r"m1\s*:\s*ok=\d+\s+changed=(\d+)", output)
    assert found, output[-2000:]
    return int(found.group(1))


@pytest.fixture(scope="module")
def secured_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    root = tmp_path_factory.mktemp("secured-kafka")
    tls = root / "tls"
    tls.mkdir()
    ca = pki.new_ca("lendstream kafka test CA")
    node = pki.issue_host_certificate(ca, pki.HostNames(NODE_NAME, (NODE_NAME,), (HOST,)))
    _write(tls / "ca.crt", ca.cert_pem)
    _write(tls / "node.crt", node.cert_pem)
    _write(tls / "node.key", node.key_pem, 0o600)
    _write(tls / "other-ca.crt", pki.new_ca("another deployment's CA").cert_pem)
    secret_dir = root / "secrets"
    secret_dir.mkdir(mode=0o700)
    passwords = {user: secrets.token_urlsafe(32) for user in ("admin", "broker", *USERS)}
    password_files = {
        user: str(_write(secret_dir / user, password + "\n", 0o600))
        for user, password in passwords.items()
    }
    broker_port, controller_port = free_port(HOST), free_port(HOST)
    variables: dict[str, Any] = {
        "kafka_node_id": 1,
        "kafka_process_roles": ["broker", "controller"],
        "kafka_controller_quorum": [{"id": 1, "host": HOST}],
        "kafka_cluster_id": _cluster_id(),
        "kafka_host": HOST,
        "kafka_broker_port": broker_port,
        "kafka_controller_port": controller_port,
        "kafka_bundle_dir": str(bundle_path("kafka")),
        "kafka_conf_dir": str(root / "conf"),
        "kafka_bin_dir": str(root / "bin"),
        "kafka_data_dir": str(root / "data"),
        "kafka_log_dir": str(root / "logs"),
        "kafka_heap": "384m",
        "kafka_group": grp.getgrgid(os.getgid()).gr_name,
        "kafka_group_initial_rebalance_delay_ms": 0,
        "kafka_log_level": "WARN",
        "kafka_topics": [
            {"name": TOPIC, "partitions": 2},
            {"name": DEAD_LETTER_TOPIC, "partitions": 1},
        ],
        "kafka_health_timeout": 60,
        "kafka_security_enabled": True,
        "kafka_security_ca_file": str(tls / "ca.crt"),
        "kafka_security_cert_file": str(tls / "node.crt"),
        "kafka_security_key_file": str(tls / "node.key"),
        "kafka_security_node_names": [NODE_NAME],
        "kafka_security_admin_password": passwords["admin"],
        "kafka_security_broker_password": passwords["broker"],
        # As playbooks/vars/kafka.yml: both rotation slots' administrator and broker users.
        "kafka_security_standby_super_users": SUPER_USERS,
        "kafka_security_users": [{"name": user, "password": passwords[user]} for user in USERS],
        "kafka_security_admin_bootstrap": f"{HOST}:{broker_port}",
        "kafka_security_admin_python": sys.executable,
    }
    run_role(["configure"], variables)
    log = root / "kafka.log"
    bootstrap = f"{HOST}:{broker_port}"
    command = [str(root / "bin" / "kafka-server")]
    server = [spawn(command, log)]

    def restart() -> None:
        stop(server[0])
        server[0] = spawn(command, log)
        wait_until(
            lambda: is_listening(HOST, broker_port),
            START_TIMEOUT_S,
            "the restarted Kafka listening",
            server[0],
            log,
        )

    try:
        wait_until(
            lambda: _answers(bootstrap, str(tls / "ca.crt"), passwords["admin"]),
            START_TIMEOUT_S,
            "the secured Kafka answering its admin user",
            server[0],
            log,
        )
        # The topics through the admin API first: the role's topic task then only lists them
        # over SASL_SSL (its TopicCommand --create costs a JVM start per topic).
        _create_topics(bootstrap, str(tls / "ca.crt"), passwords["admin"])
        run_role(["health", "topics", "access"], variables)
        yield SecuredKafka(bootstrap, controller_port, tls, password_files, variables, restart)
    finally:
        stop(server[0])


def _cluster_id() -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64, not starting with '-'."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def _create_topics(bootstrap: str, ca_file: str, password: str) -> None:
    security = KafkaSecurity(SASL_SSL, ca_file=ca_file, username="admin", password=password)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **security.client_options())
    try:
        admin.create_topics([NewTopic(TOPIC, 2, 1), NewTopic(DEAD_LETTER_TOPIC, 1, 1)])
    finally:
        admin.close()


def _answers(bootstrap: str, ca_file: str, password: str, user: str = "admin") -> bool:
    security = KafkaSecurity(SASL_SSL, ca_file=ca_file, username=user, password=password)
    try:
        KafkaAdminClient(
            bootstrap_servers=bootstrap, bootstrap_timeout_ms=3_000, **security.client_options()
        ).close()
    except KafkaError:
        return False
    return True


def _producer(bootstrap: str, options: dict[str, Any], *, idempotent: bool = True) -> KafkaProducer:
    """A producer as the applicant producer makes it (idempotent, acks=all)."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=idempotent,
        request_timeout_ms=10_000,
        max_block_ms=10_000,
        bootstrap_timeout_ms=REFUSED_TIMEOUT_MS,
        **options,
    )


def _topology_consumer(conf: TopologyConf, group: str | None = None) -> KafkaConsumer:
    """A consumer as the spout makes it (its settings, its group)."""
    return KafkaConsumer(
        bootstrap_servers=conf.kafka_bootstrap_servers,
        group_id=group or conf.kafka_group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=10_000,
        bootstrap_timeout_ms=REFUSED_TIMEOUT_MS,
        **conf.kafka_security().client_options(),
    )


def _topology_conf(kafka: SecuredKafka) -> TopologyConf:
    security = kafka.security("lendstream-topology")
    return TopologyConf(
        kafka_bootstrap_servers=kafka.bootstrap,
        kafka_security_protocol=security.protocol,
        kafka_ca_file=kafka.ca_file,
        kafka_username="lendstream-topology",
        kafka_password_file=kafka.passwords["lendstream-topology"],
    )


def test_the_pipeline_clients_produce_consume_and_commit_over_sasl_ssl(
    secured_kafka: SecuredKafka, tmp_path: Path
) -> None:
    kafka = secured_kafka
    # The producer, with the settings its unit's environment gives it.
    settings = ProducerSettings.from_env(kafka.environment("lendstream-producer"))
    assert settings.kafka_security.protocol == SASL_SSL
    producer = _producer(settings.kafka_bootstrap, settings.kafka_security.client_options())
    try:
        for number in range(10):
            producer.send(
                TOPIC,
                key=f"member-{number}".encode(),
                value=json.dumps({"n": number}).encode(),
                headers=[("applicant_id", str(number + 1).encode())],
                partition=number % 2,
            ).get(timeout=30)
    finally:
        producer.close(timeout=10)
    # Its start-up read-back, as the producer user.
    found = reconcile(
        settings.kafka_bootstrap,
        Cursor(TOPIC),
        60.0,
        "lendstream-producer",
        settings.kafka_security,
    )
    assert found.records_read >= 10
    assert set(range(1, 11)) <= set(found.already_published)

    # The topology: consume in its group, commit, and dead-letter one record.
    conf = _topology_conf(kafka)
    consumer = _topology_consumer(conf)
    try:
        partitions = [TopicPartition(TOPIC, p) for p in (0, 1)]
        consumer.assign(partitions)
        seen: list[Any] = []
        for _ in range(40):
            for records in consumer.poll(timeout_ms=500).values():
                seen.extend(records)
            if len(seen) >= 10:
                break
        assert len(seen) >= 10
        ends = consumer.end_offsets(partitions)
        consumer.commit({tp: OffsetAndMetadata(ends[tp], "", -1) for tp in partitions})
    finally:
        consumer.close()
    letter = DeadLetter("bad", "parse", "{", Source(TOPIC, 0, 0), "member-0")
    publisher = DeadLetterPublisher(
        conf.kafka_bootstrap_servers, conf.kafka_dead_letter_topic, 30.0, conf.kafka_security()
    )
    try:
        publisher.publish([letter])
    finally:
        publisher.close()

    # The exporter and the operator's tools read as the operator user.
    exporter = ExporterSettings.from_env(kafka.environment("lendstream-operator"))
    reader = PipelineReader(exporter)
    try:
        progress = reader.progress()
        assert sum(progress.committed.values()) >= 10
        assert sum(progress.lag.values()) == 0
        assert reader.read_new_dead_letters(30.0).by_stage["parse"] >= 1
    finally:
        reader.close()
    operator = kafka.security("lendstream-operator")
    assert committed_offsets(kafka.bootstrap, GROUP, TOPIC, operator) == {
        tp.partition: offset for tp, offset in ends.items()
    }
    assert len(read_topic(kafka.bootstrap, DEAD_LETTER_TOPIC, 30.0, operator).records) >= 1


def _refused_at_bootstrap(
    kafka: SecuredKafka,
    options: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    why: str,
    bootstrap: str | None = None,
) -> None:
    """The client gets no broker (kafka-python gives up its bootstrap) and logged ``why``."""
    with caplog.at_level(logging.WARNING, logger="kafka"), pytest.raises(KafkaTimeoutError):
        KafkaAdminClient(
            bootstrap_servers=bootstrap or kafka.bootstrap,
            bootstrap_timeout_ms=REFUSED_TIMEOUT_MS,
            **options,
        )
    assert why in caplog.text, caplog.text[-2000:]


def test_a_client_without_credentials_is_refused(
    secured_kafka: SecuredKafka, caplog: pytest.LogCaptureFixture
) -> None:
    """TLS verified, no SASL: the broker drops the connection at the first request."""
    options = {"security_protocol": "SSL", "ssl_cafile": secured_kafka.ca_file}
    _refused_at_bootstrap(secured_kafka, options, caplog, "KafkaSSLTransport")
    assert "socket disconnected" in caplog.text


def test_a_wrong_password_is_refused(
    secured_kafka: SecuredKafka, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = _write(tmp_path / "wrong", secrets.token_urlsafe(32), 0o600)
    security = KafkaSecurity(
        SASL_SSL,
        ca_file=secured_kafka.ca_file,
        username="lendstream-producer",
        password_file=str(wrong),
    )
    # Kafka answers SaslAuthenticationFailed and closes (after connection.failed.authentication
    # .delay.ms): kafka-python logs the answer, or only the close when it comes first.
    options = security.client_options()
    _refused_at_bootstrap(secured_kafka, options, caplog, "KafkaSSLTransport")
    assert re.search("SaslAuthenticationFailedError|socket disconnected", caplog.text)
    # The same user with its own password gets in.
    right = secured_kafka.security("lendstream-producer").client_options()
    KafkaAdminClient(bootstrap_servers=secured_kafka.bootstrap, **right).close()


def test_a_plaintext_client_gets_nothing_from_the_sasl_ssl_port(
    secured_kafka: SecuredKafka, caplog: pytest.LogCaptureFixture
) -> None:
    options = PLAINTEXT_SECURITY.client_options()
    _refused_at_bootstrap(secured_kafka, options, caplog, "socket disconnected")
    assert "KafkaTCPTransport" in caplog.text


def test_a_client_with_another_ca_refuses_the_broker(
    secured_kafka: SecuredKafka, caplog: pytest.LogCaptureFixture
) -> None:
    security = KafkaSecurity(
        SASL_SSL,
        ca_file=str(secured_kafka.tls / "other-ca.crt"),
        username="lendstream-producer",
        password_file=secured_kafka.passwords["lendstream-producer"],
    )
    options = security.client_options()
    _refused_at_bootstrap(secured_kafka, options, caplog, "CERTIFICATE_VERIFY_FAILED")


def test_a_client_checking_a_name_the_certificate_lacks_refuses_the_broker(
    secured_kafka: SecuredKafka, caplog: pytest.LogCaptureFixture
) -> None:
    """The certificate names NODE_NAME and 127.0.0.1, not localhost."""
    options = secured_kafka.security("lendstream-producer").client_options()
    port = secured_kafka.bootstrap.rsplit(":", 1)[1]
    _refused_at_bootstrap(
        secured_kafka, options, caplog, "Hostname mismatch", bootstrap=f"localhost:{port}"
    )


def _producer_reading_dead_letters(kafka: SecuredKafka) -> None:
    """As the producer user: the dead-letter topic is hidden from its metadata, and fetching
    its partition anyway is refused."""
    security = kafka.security("lendstream-producer")
    with pytest.raises(KafkaReadError, match="does not exist"):
        read_topic(kafka.bootstrap, DEAD_LETTER_TOPIC, 20.0, security)
    reader = consumer(kafka.bootstrap, security=security)
    try:
        partition = TopicPartition(DEAD_LETTER_TOPIC, 0)
        reader.assign([partition])
        with pytest.raises(TopicAuthorizationFailedError):
            reader.end_offsets([partition])
    finally:
        reader.close()


def test_the_producer_user_may_not_read_the_dead_letters(secured_kafka: SecuredKafka) -> None:
    _producer_reading_dead_letters(secured_kafka)


def test_the_operator_may_not_write(secured_kafka: SecuredKafka) -> None:
    """Read-only: a plain producer is refused the topic (an idempotent one is refused even its
    producer id: ClusterAuthorizationFailed, as the operator may write nowhere)."""
    producer = _producer(
        secured_kafka.bootstrap,
        secured_kafka.security("lendstream-operator").client_options(),
        idempotent=False,
    )
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(TOPIC, value=b"{}").get(timeout=30)
    finally:
        producer.close(timeout=5)


def test_the_topology_user_may_not_consume_in_another_group(secured_kafka: SecuredKafka) -> None:
    consumer = _topology_consumer(_topology_conf(secured_kafka), group="someone-else")
    try:
        consumer.assign([TopicPartition(TOPIC, 0)])
        with pytest.raises(GroupAuthorizationFailedError):
            consumer.committed(TopicPartition(TOPIC, 0), timeout_ms=10_000)
    finally:
        consumer.close()


def _tls_handshake_and_read(port: int, ca_file: str, certificate: tuple[str, str] | None) -> str:
    """TLS to the controller listener (client certificate or not); what reading it gave."""
    context = ssl.create_default_context(cafile=ca_file)
    if certificate:
        context.load_cert_chain(*certificate)
    with (
        socket.create_connection((HOST, port), timeout=2) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
        try:
            data = tls.recv(1)  # the controller waits for a request: no answer, or refused
        except TimeoutError:
            return "waiting"
        except (ssl.SSLError, ConnectionError) as error:
            return f"refused: {error}"
        return "closed" if not data else "data"


def test_the_controller_listener_requires_a_client_certificate(
    secured_kafka: SecuredKafka,
) -> None:
    tls = secured_kafka.tls
    port = secured_kafka.controller_port
    assert (
        _tls_handshake_and_read(
            port, secured_kafka.ca_file, (str(tls / "node.crt"), str(tls / "node.key"))
        )
        == "waiting"
    )
    assert _tls_handshake_and_read(port, secured_kafka.ca_file, None).startswith(
        ("refused", "closed")
    )


def test_the_roles_access_task_restores_users_and_acls_and_then_changes_nothing(
    secured_kafka: SecuredKafka,
) -> None:
    kafka = secured_kafka
    admin = _admin(kafka)
    try:
        # Drift: a password changed behind the role's back, an ACL nobody declared.
        admin.alter_user_scram_credentials(
            [
                UserScramCredentialUpsertion(
                    "lendstream-operator", ScramMechanism.SCRAM_SHA_512, "x" * 20
                )
            ]
        )
        extra = ACL(
            "User:lendstream-producer",
            "*",
            ACLOperation.READ,
            ACLPermissionType.ALLOW,
            ResourcePattern(ResourceType.TOPIC, DEAD_LETTER_TOPIC, ACLResourcePatternType.LITERAL),
        )
        assert not admin.create_acls([extra])["failed"]
    finally:
        admin.close()
    restored = run_role(["access"], kafka.role_variables)
    assert "SCRAM user lendstream-operator: password set" in restored
    assert "ACL removed: User:lendstream-producer READ topic lendstream.applicants.dlq" in restored
    assert changed_count(restored) == 1
    assert changed_count(run_role(["access"], kafka.role_variables)) == 0
    _producer_reading_dead_letters(kafka)


def _admin(kafka: SecuredKafka) -> KafkaAdminClient:
    password = kafka.role_variables["kafka_security_admin_password"]
    security = KafkaSecurity(SASL_SSL, ca_file=kafka.ca_file, username="admin", password=password)
    return KafkaAdminClient(bootstrap_servers=kafka.bootstrap, **security.client_options())


def test_the_clients_as_the_cluster_plays_render_them_work_and_a_wrong_principal_is_denied(
    secured_kafka: SecuredKafka, tmp_path: Path
) -> None:
    """The producer's, the exporter's, the topology's and the operators' settings rendered by the
    roles from the cluster plays' variables (tests/kafka_wiring.py: lendstream_tls on, this
    broker's address and CA, its users' passwords as the Vault's) against this broker."""
    kafka = secured_kafka
    passwords = {
        user: Path(kafka.passwords[f"lendstream-{user}"]).read_text().strip()
        for user in ("producer", "topology", "operator")
    }
    rendered = render(
        tmp_path / "rendered",
        tls=True,
        passwords=passwords,
        bootstrap=[kafka.bootstrap],
        ca_file=kafka.ca_file,
    )
    # The producer (its environment file, its password file) publishes and reads back.
    settings = ProducerSettings.from_env(rendered.producer_env)
    producer = _producer(settings.kafka_bootstrap, settings.kafka_security.client_options())
    try:
        for number in range(3):
            producer.send(TOPIC, key=b"rendered", value=b"{}", partition=number % 2).get(30)
    finally:
        producer.close(timeout=10)
    assert (
        reconcile(
            settings.kafka_bootstrap, Cursor(TOPIC), 60.0, "rendered", settings.kafka_security
        ).records_read
        >= 3
    )

    # The spout's and dead-letter writer's settings, from the submission's --set pairs.
    conf = TopologyConf.from_storm_conf(
        {PREFIX + name: value for name, value in rendered.topology_settings.items()}
    )
    assert conf.kafka_security().username == "lendstream-topology"
    spout = _topology_consumer(conf)
    try:
        partitions = [TopicPartition(TOPIC, p) for p in (0, 1)]
        spout.assign(partitions)
        ends = spout.end_offsets(partitions)
        spout.commit({tp: OffsetAndMetadata(ends[tp], "", -1) for tp in partitions})
    finally:
        spout.close()
    writer = DeadLetterPublisher(
        conf.kafka_bootstrap_servers, conf.kafka_dead_letter_topic, 30.0, conf.kafka_security()
    )
    try:
        writer.publish([DeadLetter("bad", "parse", "{", Source(TOPIC, 0, 0), "rendered")])
    finally:
        writer.close()

    # The exporter (its password file is the role's main task's: written here as it would be).
    exporter_env = rendered.exporter_env
    exporter_password = Path(exporter_env["LENDSTREAM_KAFKA_PASSWORD_FILE"])
    exporter_password.parent.mkdir(parents=True, exist_ok=True)
    _write(exporter_password, passwords["operator"], 0o640)
    reader = PipelineReader(ExporterSettings.from_env(exporter_env))
    try:
        assert sum(reader.progress().lag.values()) == 0
    finally:
        reader.close()

    # The operators' tools on a node: reconcile's drain wait and reads, the status node probe
    # (brokers and quorum need the cluster's describe), the chaos probe's end offsets.
    operator = operator_security({}, rendered.operator_env_file)
    drained = wait_until_drained(
        kafka.bootstrap, TOPIC, GROUP, 30.0, settle_s=0.5, security=operator
    )
    assert drained.drained
    assert read_topic(kafka.bootstrap, DEAD_LETTER_TOPIC, 30.0, operator).records
    state = node_probe.kafka_state([kafka.bootstrap], [TOPIC, DEAD_LETTER_TOPIC], 15.0, operator)
    assert state["brokers"]
    assert state["quorum"]["leader_id"] == 1
    assert not state["offline"]
    assert sum(end_offsets(kafka.bootstrap, TOPIC, operator).values()) == sum(ends.values())

    # A wrong principal: the producer's rendered user in the topology's group is refused.
    with pytest.raises(GroupAuthorizationFailedError):
        committed_offsets(kafka.bootstrap, GROUP, TOPIC, settings.kafka_security)


def test_the_member_attacks_get_no_answer_in_plaintext_and_are_denied_with_a_wrong_user(
    secured_kafka: SecuredKafka,
) -> None:
    """lendstream.attacks' Kafka clients as a member runs them with lendstream_tls (the suite's
    params), in parallel as the suite runs them: a plaintext client gets nothing from the open
    port, one with the deployment's CA and a wrong SCRAM user is refused at sign-in."""
    host, port = secured_kafka.bootstrap.rsplit(":", 1)
    wrong = {
        "credentials": "wrong",
        "security_protocol": "SASL_SSL",
        "ca_file": secured_kafka.ca_file,
    }
    plan = [
        (attack, params)
        for attack in (attacks.kafka_consume, attacks.kafka_delete_topic)
        for params in ({"topic": TOPIC, "tls_port": True}, {"topic": TOPIC, **wrong})
    ]
    with ThreadPoolExecutor(len(plan)) as pool:
        outcomes = list(pool.map(lambda step: step[0]([host], int(port), step[1]), plan))
    assert [outcome for outcome, _ in outcomes] == [
        attacks.Outcome.PLAINTEXT_REFUSED,
        attacks.Outcome.DENIED,
    ] * 2, outcomes


def _publish_and_read_back(kafka: SecuredKafka, producer: KafkaProducer, user: str) -> None:
    """``producer`` writes one record, and ``user`` (the producer's ACLs) reads the topic."""
    producer.send(TOPIC, key=user.encode(), value=b'{"rotation": true}').get(timeout=20)
    security = kafka.security(user)
    assert sum(end_offsets(kafka.bootstrap, TOPIC, security).values()) > 0


def _access_request(kafka: SecuredKafka, **changes: Any) -> dict[str, Any]:
    """lendstream.kafka_access's request for the role's users, ACLs and admin, with changes."""
    variables = kafka.role_variables
    return {
        "bootstrap": kafka.bootstrap,
        "ca_cert": Path(kafka.ca_file).read_text(),
        "admin_user": "admin",
        "admin_password": variables["kafka_security_admin_password"],
        "users": variables["kafka_security_users"],
        "acls": role_default("kafka", "kafka_security_acls"),
        **changes,
    }


def test_a_rotation_to_the_other_user_never_refuses_a_client_then_retires_the_old_one(
    secured_kafka: SecuredKafka, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """playbooks/rotate-kafka-passwords.yml's Kafka steps through the role's access entry point:
    the producer's second user made beside the first with the same ACLs (the first untouched: a
    client of it, connected or connecting anew with its password, keeps working), then the first
    retired (its credential and ACLs gone: its password opens nothing), the second unaffected."""
    kafka = secured_kafka
    old, new = "lendstream-producer", "lendstream-producer-b"
    new_password = secrets.token_urlsafe(32)
    new_file = _write(tmp_path / "new.password", new_password + "\n", 0o600)
    kafka.passwords[new] = str(new_file)
    acls = role_default("kafka", "kafka_security_acls")
    both = [*acls, *({**acl, "principal": new} for acl in acls if acl["principal"] == old)]
    users = kafka.role_variables["kafka_security_users"]
    connected = _producer(kafka.bootstrap, kafka.security(old).client_options())
    try:
        _publish_and_read_back(kafka, connected, old)
        begin = {
            **kafka.role_variables,
            "kafka_security_users": [*users, {"name": new, "password": new_password}],
            "kafka_security_acls": both,
        }
        made = run_role(["access"], begin)
        assert f"SCRAM user {new}: password set" in made
        assert f"SCRAM user {old}:" not in made
        # The window: the connected client, a client connecting anew as the old user, the new one.
        _publish_and_read_back(kafka, connected, old)
        for user in (old, new):
            fresh = _producer(kafka.bootstrap, kafka.security(user).client_options())
            _publish_and_read_back(kafka, fresh, user)
            fresh.close()

        retire = {
            **begin,
            "kafka_security_users": [u for u in begin["kafka_security_users"] if u["name"] != old],
            "kafka_security_acls": [acl for acl in both if acl["principal"] != old],
            "kafka_security_retired_users": [old],
        }
        retired = run_role(["access"], retire)
        assert f"SCRAM user {old}: retired" in retired
        assert f"ACL removed: User:{old} WRITE topic lendstream.applicants" in retired
        _refused_at_bootstrap(
            kafka, kafka.security(old).client_options(), caplog, "KafkaSSLTransport"
        )
        fresh = _producer(kafka.bootstrap, kafka.security(new).client_options())
        _publish_and_read_back(kafka, fresh, new)
        fresh.close()
        # A rerun retires nothing more (check mode says what it would change: nothing).
        request = _access_request(
            kafka,
            users=retire["kafka_security_users"],
            acls=retire["kafka_security_acls"],
            retired_users=[old],
            check=True,
        )
        assert kafka_access.apply(request) == []
        with pytest.raises(kafka_access.KafkaAccessError, match="both kept and retired"):
            kafka_access.apply({**request, "retired_users": [new]})
    finally:
        connected.close()
        # Back as the other tests found it: the first user, the second retired.
        kafka_access.apply(_access_request(kafka, retired_users=[new]))
        del kafka.passwords[new]


def _identity_rotation(
    kafka: SecuredKafka,
    steady: dict[str, Any],
    to: dict[str, tuple[str, str]],
    retired: list[str],
) -> dict[str, Any]:
    """One rotation of the administrator and broker users, phase by phase as
    playbooks/rotate-kafka-passwords.yml runs them with vars/kafka.yml: ``steady`` names the
    current ones, ``to`` the new {"admin": (user, password), "broker": (...)}; ``retired`` are the
    old names. Returns the steady variables after it."""
    server_properties = Path(steady["kafka_conf_dir"]) / "server.properties"
    new_users = [{"name": user, "password": password} for user, password in to.values()]
    rotating = {
        **steady,
        "kafka_security_broker_user": to["broker"][0],
        "kafka_security_broker_password": to["broker"][1],
        "kafka_security_users": [*steady["kafka_security_users"], *new_users],
        "kafka_security_retired_users": [],  # nothing before every user of the old slot is done
    }
    # 1. The new users, made as the administrator of before (it stays valid throughout).
    made = run_role(["access"], rotating)
    for user, _ in to.values():
        assert f"SCRAM user {user}: password set" in made
    # 2. The broker renders its new user and restarts onto it behind the role's gate.
    super_users_before = _super_users_line(server_properties)
    run_role(["configure"], rotating)
    assert f'username="{to["broker"][0]}"' in server_properties.read_text()
    assert _super_users_line(server_properties) == super_users_before
    kafka.restart()
    run_role(["health"], rotating)
    # 3. The role's tools move to the new administrator; the old users are retired; no restart
    # is needed for it (server.properties does not change).
    steady_after = {
        **rotating,
        "kafka_security_admin_user": to["admin"][0],
        "kafka_security_admin_password": to["admin"][1],
        "kafka_security_users": [
            user for user in rotating["kafka_security_users"] if user["name"] not in retired
        ],
        "kafka_security_retired_users": retired,
    }
    rendered = server_properties.read_text()
    done = run_role(["configure", "health", "access"], steady_after)
    assert server_properties.read_text() == rendered
    for user in retired:
        assert f"SCRAM user {user}: retired" in done
    return steady_after


def _super_users_line(server_properties: Path) -> str:
    lines = server_properties.read_text().splitlines()
    return next(line for line in lines if line.startswith("super.users="))


def test_the_administrator_and_broker_users_rotate_with_one_restart_each_way(
    secured_kafka: SecuredKafka,
) -> None:
    """The administrator's and the brokers' own SCRAM users move to the other slot and back,
    through the role as playbooks/rotate-kafka-passwords.yml and vars/kafka.yml run it: the
    new users made as the old administrator; the broker restarted onto its new user behind the
    role's health gate (the old administrator still signing in); the tools moved to the new
    administrator and the old users retired, with no second restart (super.users lists both
    slots in every phase). The old administrator's password then opens nothing. One node has no
    other broker to sign in to: its own start with the new broker user and the gate passing are
    what this proves of the brokers' user, not replication between brokers."""
    kafka = secured_kafka
    ca_file = kafka.ca_file
    original = {
        "admin": ("admin", kafka.role_variables["kafka_security_admin_password"]),
        "broker": ("broker", kafka.role_variables["kafka_security_broker_password"]),
    }
    other = {
        "admin": ("admin-b", secrets.token_urlsafe(32)),
        "broker": ("broker-b", secrets.token_urlsafe(32)),
    }
    steady = kafka.role_variables
    assert _super_users_line(
        Path(steady["kafka_conf_dir"]) / "server.properties"
    ) == "super.users=" + ";".join(
        [f"User:{user}" for user in SUPER_USERS] + [f"User:CN={NODE_NAME}"]
    )

    on_b = _identity_rotation(kafka, steady, other, ["admin", "broker"])
    assert not _answers(kafka.bootstrap, ca_file, original["admin"][1], "admin")
    assert _answers(kafka.bootstrap, ca_file, other["admin"][1], "admin-b")
    # A restart after the rotation: the node reads the new users back from its metadata log.
    kafka.restart()
    run_role(["health"], on_b)
    assert _answers(kafka.bootstrap, ca_file, other["admin"][1], "admin-b")
    assert not _answers(kafka.bootstrap, ca_file, original["admin"][1], "admin")

    # And back, as the next rotation does (with the module's passwords, for the other tests).
    _identity_rotation(kafka, on_b, original, ["admin-b", "broker-b"])
    assert not _answers(kafka.bootstrap, ca_file, other["admin"][1], "admin-b")
    assert _answers(kafka.bootstrap, ca_file, original["admin"][1], "admin")


# A user name that a Java HashMap of these tests' user names iterates first (its spread hash is 0
# modulo 16, 32 and 64; no other user of this module hashes there): Kafka 4.4.0's
# ScramDelta.apply, given such a map whose first change is a removal, drops every SCRAM credential
# of the delta (docs/security.md, "A restarted broker that refuses users: the cause").
FIRST_HASHED_USER = "retired-191"


def test_a_retired_user_leaves_every_other_user_signing_in_after_a_restart(
    secured_kafka: SecuredKafka,
) -> None:
    """A broker reads its SCRAM users back from its metadata log at start, in one delta. Had the
    role deleted a retired user whose name that delta meets first, the restarted broker would
    have lost every user (Kafka 4.4.0 drops the mechanism's whole user map when a removal empties
    it mid-way). The role retires a user by overwriting its credential with one nobody knows, so
    no removal is ever in the log: after the restart every current user signs in, the retired
    one does not."""
    kafka = secured_kafka
    request = _access_request(kafka)
    current = {u["name"]: u["password"] for u in request["users"]}
    current["admin"] = request["admin_password"]
    retired_password = secrets.token_urlsafe(32)
    made = kafka_access.apply(
        {
            **request,
            "users": [*request["users"], {"name": FIRST_HASHED_USER, "password": retired_password}],
        }
    )
    assert f"SCRAM user {FIRST_HASHED_USER}: password set" in made
    retired = kafka_access.apply(_access_request(kafka, retired_users=[FIRST_HASHED_USER]))
    assert f"SCRAM user {FIRST_HASHED_USER}: retired" in retired
    assert kafka_access.apply(_access_request(kafka, retired_users=[FIRST_HASHED_USER])) == []

    kafka.restart()
    # The listener opens once the users are loaded; a few tries allow a slow first answer.
    refusals: dict[str, list[str]] = {}
    for _ in range(5):
        refusals = kafka_access.refusing_brokers([kafka.bootstrap], kafka.ca_file, current)
        if not any(refusals.values()):
            break
    assert not any(refusals.values()), f"users refused after the restart: {refusals}"
    assert kafka_access.refusing_brokers(
        [kafka.bootstrap], kafka.ca_file, {FIRST_HASHED_USER: retired_password}
    ) == {FIRST_HASHED_USER: [kafka.bootstrap]}
