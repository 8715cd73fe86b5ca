"""lendstream.kafka_client: the Kafka clients' security settings, turned into kafka-python's."""

from __future__ import annotations

from pathlib import Path

import pytest

from lendstream.kafka_client import (
    PLAINTEXT_SECURITY,
    SASL_SSL,
    KafkaSecurity,
    KafkaSecurityError,
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
