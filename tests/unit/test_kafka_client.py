"""lendstream.kafka_client: the Kafka clients' security settings, turned into kafka-python's."""

from __future__ import annotations

from pathlib import Path

import pytest

from lendstream.kafka_client import (
    OPERATOR_CONFIG_FILE,
    PLAINTEXT_SECURITY,
    SASL_SSL,
    KafkaSecurity,
    KafkaSecurityError,
    operator_security,
    read_env_file,
)
from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.services.environment import SettingsError
from lendstream.services.producer.settings import ProducerSettings


def test_plaintext_adds_no_option_so_existing_clients_are_unchanged() -> None:
    assert PLAINTEXT_SECURITY.client_options() == {}
    assert KafkaSecurity.from_env({}) == PLAINTEXT_SECURITY
    assert TopologyConf().kafka_security() == PLAINTEXT_SECURITY
    assert ProducerSettings.from_env({}).kafka_security == PLAINTEXT_SECURITY


def test_sasl_ssl_verifies_the_ca_and_the_host_name_and_signs_in_with_scram(
    tmp_path: Path,
) -> None:
    password = tmp_path / "password"
    password.write_text("s3cret-password-value\n")
    security = KafkaSecurity(
        SASL_SSL, ca_file="/etc/ca.crt", username="lendstream-producer", password_file=str(password)
    )
    assert security.client_options() == {
        "security_protocol": "SASL_SSL",
        "ssl_cafile": "/etc/ca.crt",
        "ssl_check_hostname": True,
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "lendstream-producer",
        "sasl_plain_password": "s3cret-password-value",
    }
    assert "s3cret" not in repr(security)
    assert KafkaSecurity.from_env(security.as_env()) == security
    assert "s3cret" not in str(security.as_env())


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"protocol": "SSL"}, "must be one of"),
        ({"protocol": SASL_SSL, "username": "u", "password_file": "/p"}, "a CA file"),
        ({"protocol": SASL_SSL, "ca_file": "/ca", "password_file": "/p"}, "a SCRAM user name"),
        ({"protocol": SASL_SSL, "ca_file": "/ca", "username": "u"}, "a password file"),
    ],
)
def test_incomplete_settings_are_refused_naming_what_is_missing(
    settings: dict[str, str], message: str
) -> None:
    with pytest.raises(KafkaSecurityError, match=message):
        KafkaSecurity(**settings)


def test_a_missing_or_empty_password_file_is_refused_when_a_client_is_made(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    for path, message in ((tmp_path / "absent", "cannot be read"), (empty, "is empty")):
        security = KafkaSecurity(SASL_SSL, ca_file="/ca", username="u", password_file=str(path))
        with pytest.raises(KafkaSecurityError, match=message):
            security.client_options()


def test_the_services_report_bad_kafka_settings_as_settings_errors() -> None:
    with pytest.raises(SettingsError, match="needs a CA file"):
        ProducerSettings.from_env(
            {
                "LENDSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "LENDSTREAM_KAFKA_USERNAME": "u",
                "LENDSTREAM_KAFKA_PASSWORD_FILE": "/p",
            }
        )


def test_the_topology_reads_its_kafka_settings_from_the_storm_configuration() -> None:
    conf = TopologyConf.from_storm_conf(
        {
            "lendstream.kafka_security_protocol": "SASL_SSL",
            "lendstream.kafka_ca_file": "/etc/lendstream/tls/ca.crt",
            "lendstream.kafka_username": "lendstream-topology",
            "lendstream.kafka_password_file": "/etc/lendstream/topology/kafka-password",
        }
    )
    assert conf.kafka_security() == KafkaSecurity(
        SASL_SSL,
        ca_file="/etc/lendstream/tls/ca.crt",
        username="lendstream-topology",
        password_file="/etc/lendstream/topology/kafka-password",
    )


OPERATOR_ENV = """# Ansible managed
LENDSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL
LENDSTREAM_KAFKA_CA_FILE=/etc/lendstream/tls/ca.crt
LENDSTREAM_KAFKA_USERNAME=lendstream-operator

LENDSTREAM_KAFKA_PASSWORD_FILE=/etc/lendstream/kafka-client/operator.password
"""


def test_the_operators_tools_read_the_nodes_client_settings(tmp_path: Path) -> None:
    config = tmp_path / "operator.env"
    config.write_text(OPERATOR_ENV)
    assert read_env_file(config)["LENDSTREAM_KAFKA_USERNAME"] == "lendstream-operator"
    assert operator_security({}, config) == KafkaSecurity(
        SASL_SSL,
        ca_file="/etc/lendstream/tls/ca.crt",
        username="lendstream-operator",
        password_file="/etc/lendstream/kafka-client/operator.password",
    )
    # The role's client entry point writes it where the tools look (kafka_client_conf_dir).
    assert str(OPERATOR_CONFIG_FILE) == "/etc/lendstream/kafka-client/operator.env"


def test_the_environment_wins_over_the_nodes_settings_and_without_either_it_is_plaintext(
    tmp_path: Path,
) -> None:
    config = tmp_path / "operator.env"
    config.write_text(OPERATOR_ENV)
    env = {
        "LENDSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "LENDSTREAM_KAFKA_CA_FILE": "/ca",
        "LENDSTREAM_KAFKA_USERNAME": "admin",
        "LENDSTREAM_KAFKA_PASSWORD_FILE": "/p",
    }
    assert operator_security(env, config).username == "admin"
    assert operator_security({}, tmp_path / "absent.env") == PLAINTEXT_SECURITY


def test_incomplete_node_settings_are_refused_naming_what_is_missing(tmp_path: Path) -> None:
    config = tmp_path / "operator.env"
    config.write_text("LENDSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL\n")
    with pytest.raises(KafkaSecurityError, match="a CA file, a SCRAM user name, a password file"):
        operator_security({}, config)
