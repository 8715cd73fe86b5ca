"""The cluster plays turn Kafka's security on exactly with the inventory's lendstream_tls, and give
every Kafka client its user, password file and the CA (rendered by the roles for a ci host:
tests/kafka_wiring.py); with lendstream_tls off nothing of it is rendered."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from kafka_wiring import Rendered, fake_vault, render

from lendstream.kafka_client import PLAINTEXT, SASL_SSL, KafkaSecurity, operator_security
from lendstream.pipeline.sealing import Sealer
from lendstream.pipeline.topology_conf import PREFIX, TopologyConf
from lendstream.services.pipeline_exporter.settings import ExporterSettings
from lendstream.services.producer.settings import ProducerSettings

CA = "/etc/lendstream/tls/ca.crt"
VAULT = fake_vault()
CLIENTS = ("producer", "topology", "operator")
# Both slots' administrator and broker users, super users in every phase of a rotation.
SUPER_USERS = ["admin", "admin-b", "broker", "broker-b"]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("kafka-wiring-tls"), tls=True)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("kafka-wiring-plain"), tls=False)


def _secret_file(path: Path, expected: str) -> None:
    assert path.read_text() == expected + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_the_kafka_play_secures_kafka_with_every_node_a_super_user(secured: Rendered) -> None:
    kafka = secured.kafka
    assert kafka["enabled"] is True
    assert kafka["node_names"] == ["m1", "m2", "m3"]
    assert (kafka["admin_user"], kafka["admin_password"]) == (
        "admin",
        VAULT["vault_kafka_admin_password"],
    )
    assert (kafka["broker_user"], kafka["broker_password"]) == (
        "broker",
        VAULT["vault_kafka_broker_password"],
    )
    assert sorted(kafka["standby_super_users"]) == SUPER_USERS
    assert {user["name"]: user["password"] for user in kafka["users"]} == {
        **{f"lendstream-{user}": VAULT[f"vault_kafka_{user}_password"] for user in CLIENTS},
        "admin": VAULT["vault_kafka_admin_password"],
        "broker": VAULT["vault_kafka_broker_password"],
    }
    # No rotation under way: the other slot's users are retired (nothing once they are gone).
    assert kafka["retired_users"] == [
        "lendstream-producer-b",
        "lendstream-topology-b",
        "lendstream-operator-b",
        "admin-b",
        "broker-b",
    ]
    # Run on the topic-creating broker itself, with the virtualenv site.yml installs there.
    assert kafka["admin_host"] == "m1"
    assert kafka["admin_python"] == "/opt/lendstream/venv/bin/python"
    acls = {
        (a["principal"], a["resource_type"], a["name"], a.get("pattern_type", "literal")): set(
            a["operations"]
        )
        for a in kafka["acls"]
    }
    assert acls == {
        ("lendstream-producer", "topic", "lendstream.applicants", "literal"): {
            "write",
            "read",
            "describe",
        },
        ("lendstream-topology", "topic", "lendstream.applicants", "literal"): {"read", "describe"},
        ("lendstream-topology", "group", "lendstream-topology", "literal"): {"read", "describe"},
        ("lendstream-topology", "topic", "lendstream.applicants.dlq", "literal"): {
            "write",
            "describe",
        },
        ("lendstream-operator", "topic", "lendstream.", "prefixed"): {"read", "describe"},
        ("lendstream-operator", "group", "*", "literal"): {"describe"},
        ("lendstream-operator", "cluster", "kafka-cluster", "literal"): {"describe"},
    }


def _secured_as(security: KafkaSecurity) -> str:
    """The user of SASL_SSL settings that verify the deployment's CA."""
    assert (security.protocol, security.ca_file) == (SASL_SSL, CA)
    return str(security.username)


def test_each_client_gets_its_user_password_file_and_the_ca(secured: Rendered) -> None:
    producer = ProducerSettings.from_env(secured.producer_env).kafka_security
    assert _secured_as(producer) == "lendstream-producer"
    assert producer.password_file == str(secured.root / "producer/conf/kafka-password")
    _secret_file(Path(producer.password_file), VAULT["vault_kafka_producer_password"])

    exporter = ExporterSettings.from_env(secured.exporter_env).kafka_security
    assert _secured_as(exporter) == "lendstream-operator"
    assert exporter.password_file == str(secured.root / "exporter/kafka-password")

    settings = secured.topology_settings
    conf = TopologyConf.from_storm_conf({PREFIX + k: v for k, v in settings.items()})
    topology = conf.kafka_security()
    assert _secured_as(topology) == "lendstream-topology"
    assert topology.password_file == str(secured.root / "kafka-lendstream-topology.password")
    _secret_file(Path(topology.password_file), VAULT["vault_kafka_topology_password"])
    assert VAULT["vault_kafka_topology_password"] not in str(settings)  # names and paths only
    assert conf.kafka_bootstrap_servers == "m1:9092,m2:9092,m3:9092"

    operator = operator_security({}, secured.operator_env_file)
    assert _secured_as(operator) == "lendstream-operator"
    _secret_file(Path(str(operator.password_file)), VAULT["vault_kafka_operator_password"])
    assert operator.read_password() == VAULT["vault_kafka_operator_password"]


def test_with_lendstream_tls_the_topology_seals_its_tuples_with_the_vault_key(
    secured: Rendered, plain: Rendered
) -> None:
    """The submission names the key file, never the key; the file holds the Vault's key (0640),
    named by its digest so that a new key is a new submission; without lendstream_tls: none."""
    settings = secured.topology_settings
    key_file = Path(settings["tuple_key_file"])
    assert key_file.parent == secured.root
    assert re.fullmatch(r"tuple-[0-9a-f]{16}\.key", key_file.name)
    _secret_file(key_file, VAULT["vault_topology_tuple_key"])
    assert VAULT["vault_topology_tuple_key"] not in str(settings)
    conf = TopologyConf.from_storm_conf({PREFIX + k: v for k, v in settings.items()})
    assert Sealer.from_key_file(conf.tuple_key_file).enabled
    assert "tuple_key_file" not in plain.topology_settings
    assert not list(plain.root.glob("tuple-*.key"))


def test_without_lendstream_tls_every_client_stays_plaintext(plain: Rendered) -> None:
    assert plain.kafka["enabled"] is False
    assert plain.kafka["users"] == []
    assert not [name for name in plain.producer_env if name.startswith("LENDSTREAM_KAFKA_S")]
    assert ProducerSettings.from_env(plain.producer_env).kafka_security.protocol == PLAINTEXT
    assert ExporterSettings.from_env(plain.exporter_env).kafka_security.protocol == PLAINTEXT
    assert not (plain.root / "producer/conf/kafka-password").exists()
    assert not (plain.root / "kafka-password").exists()
    assert not {
        k for k in plain.topology_settings if k.startswith("kafka_") and "bootstrap" not in k
    }
    assert not plain.operator_env_file.exists()
    assert operator_security({}, plain.operator_env_file).protocol == PLAINTEXT


@pytest.fixture(scope="module")
def rotating(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Half-way through `make rotate-kafka-passwords`: slot b is current, a is the previous."""
    return render(tmp_path_factory.mktemp("kafka-wiring-rotating"), tls=True, vault=ROTATION_VAULT)


ROTATION_VAULT = {
    "vault_kafka_user_slot": "b",
    "vault_kafka_user_slot_previous": "a",
    **{
        f"vault_kafka_{user}_password_previous": f"old-{user}-password"
        for user in (*CLIENTS, "admin", "broker")
    },
}


def test_during_a_rotation_both_users_of_each_client_sign_in_with_the_same_acls(
    rotating: Rendered,
) -> None:
    kafka = rotating.kafka
    assert {user["name"]: user["password"] for user in kafka["users"]} == {
        **{f"lendstream-{u}-b": VAULT[f"vault_kafka_{u}_password"] for u in CLIENTS},
        **{f"lendstream-{u}": f"old-{u}-password" for u in CLIENTS},
        "admin-b": VAULT["vault_kafka_admin_password"],
        "admin": "old-admin-password",
        "broker-b": VAULT["vault_kafka_broker_password"],
        "broker": "old-broker-password",
    }
    assert kafka["retired_users"] == []  # nothing retired before every client has switched
    # The role's tools stay on the previous administrator, which exists in every phase until the
    # last play retires it; the brokers move to the new broker user at their restart; super.users
    # stays the same, so nothing else restarts them.
    assert (kafka["admin_user"], kafka["admin_password"]) == ("admin", "old-admin-password")
    assert (kafka["broker_user"], kafka["broker_password"]) == (
        "broker-b",
        VAULT["vault_kafka_broker_password"],
    )
    assert sorted(kafka["standby_super_users"]) == SUPER_USERS
    grants: dict[str, set[tuple[str, str, str]]] = {}
    for acl in kafka["acls"]:
        grants.setdefault(acl["principal"], set()).update(
            (acl["resource_type"], acl["name"], operation) for operation in acl["operations"]
        )
    for client in CLIENTS:
        assert grants[f"lendstream-{client}-b"] == grants[f"lendstream-{client}"]
    assert len(grants) == 6
    # Every client is given its new user, and the topology a file of that user's.
    assert ProducerSettings.from_env(rotating.producer_env).kafka_security.username == (
        "lendstream-producer-b"
    )
    assert ExporterSettings.from_env(rotating.exporter_env).kafka_security.username == (
        "lendstream-operator-b"
    )
    conf = TopologyConf.from_storm_conf(
        {PREFIX + k: v for k, v in rotating.topology_settings.items()}
    ).kafka_security()
    assert conf.username == "lendstream-topology-b"
    assert conf.password_file == str(rotating.root / "kafka-lendstream-topology-b.password")
    _secret_file(Path(conf.password_file), VAULT["vault_kafka_topology_password"])
    operator = operator_security({}, rotating.operator_env_file)
    assert operator.username == "lendstream-operator-b"
    assert operator.read_password() == VAULT["vault_kafka_operator_password"]


def test_the_rotations_last_play_moves_the_tools_to_the_new_administrator_and_retires_the_old(
    tmp_path: Path,
) -> None:
    kafka = render(
        tmp_path, tls=True, vault={**ROTATION_VAULT, "site_kafka_retiring": "true"}
    ).kafka
    assert (kafka["admin_user"], kafka["admin_password"]) == (
        "admin-b",
        VAULT["vault_kafka_admin_password"],
    )
    assert kafka["broker_user"] == "broker-b"
    assert sorted(kafka["standby_super_users"]) == SUPER_USERS
    assert sorted(kafka["retired_users"]) == sorted(
        [*(f"lendstream-{u}" for u in CLIENTS), "admin", "broker"]
    )
    assert {user["name"] for user in kafka["users"]} == {
        *(f"lendstream-{u}-b" for u in CLIENTS),
        "admin-b",
        "broker-b",
    }
