"""How every lendstream client connects to Kafka: the one home of its security settings.

A :class:`KafkaSecurity` turns four settings into kafka-python keyword arguments
(:meth:`KafkaSecurity.client_options`), which every client spreads into its ``KafkaProducer``,
``KafkaConsumer`` or ``KafkaAdminClient``: the producer, the topology's spout and dead-letter
writer, the pipeline exporter, the operator's reconcile, the admin tools.

- ``protocol``: ``PLAINTEXT`` (the default: no options at all, what the single-machine stack and
  a cluster with ``kafka_security_enabled: false`` speak) or ``SASL_SSL`` (TLS verified against
  ``ca_file`` with host-name checks, then SCRAM-SHA-512 as ``username``).
- ``ca_file``: the deployment CA (role pki's ``/etc/lendstream/tls/ca.crt``). The brokers'
  certificates name their inventory names, FQDNs and addresses: bootstrap servers must be one of
  those, and kafka-python checks the name of every broker it is sent to (advertised listeners).
- ``username`` and ``password_file``: the SCRAM user and a file holding its password (read each
  time a client is made, so a rotated password is picked up by the next client; never on a
  command line). ``password`` is for tools handed the secret on stdin (lendstream.kafka_access).

From the environment (``from_env``): ``LENDSTREAM_KAFKA_SECURITY_PROTOCOL``,
``LENDSTREAM_KAFKA_CA_FILE``, ``LENDSTREAM_KAFKA_USERNAME``, ``LENDSTREAM_KAFKA_PASSWORD_FILE``.

The operators' tools run on a cluster node (lendstream reconcile, dlq, status's node probe, the
chaos probes) take :func:`operator_security`: those variables when the environment sets the
protocol, else the node's ``/etc/lendstream/kafka-client/operator.env`` (the kafka role's
``client`` entry point writes it, with the same variables, when the cluster's Kafka is secured),
else plaintext (the single-machine stack: nothing to set up).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLAINTEXT = "PLAINTEXT"
SASL_SSL = "SASL_SSL"
PROTOCOLS = (PLAINTEXT, SASL_SSL)
SCRAM_MECHANISM = "SCRAM-SHA-512"
ENV_PREFIX = "LENDSTREAM_KAFKA_"
# The operators' settings on a cluster node (role kafka, entry point client: kafka_client_conf_dir).
OPERATOR_CONFIG_FILE = Path("/etc/lendstream/kafka-client/operator.env")


class KafkaSecurityError(ValueError):
    """Security settings that cannot make a client: says which one and why."""


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How to reach Kafka: plaintext, or SASL_SSL with the deployment CA and a SCRAM user."""

    protocol: str = PLAINTEXT
    ca_file: str | None = None
    username: str | None = None
    password_file: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise KafkaSecurityError(
                f"Kafka security protocol must be one of {', '.join(PROTOCOLS)}, "
                f"not {self.protocol!r}"
            )
        if self.protocol == PLAINTEXT:
            return
        missing = [
            name
            for name, value in (
                ("a CA file", self.ca_file),
                ("a SCRAM user name", self.username),
                ("a password file", self.password_file or self.password),
            )
            if not value
        ]
        if missing:
            raise KafkaSecurityError(f"{self.protocol} needs {', '.join(missing)}")

    @property
    def enabled(self) -> bool:
        return self.protocol != PLAINTEXT

    def read_password(self) -> str:
        if self.password:
            return self.password
        assert self.password_file is not None  # __post_init__ checked
        try:
            value = Path(self.password_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise KafkaSecurityError(
                f"the Kafka password file {self.password_file} cannot be read: {error}"
            ) from None
        if not value:
            raise KafkaSecurityError(f"the Kafka password file {self.password_file} is empty")
        return value

    def client_options(self) -> dict[str, Any]:
        """kafka-python keyword arguments (none for PLAINTEXT: its own defaults)."""
        if not self.enabled:
            return {}
        return {
            "security_protocol": self.protocol,
            "ssl_cafile": self.ca_file,
            "ssl_check_hostname": True,
            "sasl_mechanism": SCRAM_MECHANISM,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.read_password(),
        }

    def as_env(self) -> dict[str, str]:
        """The environment ``from_env`` reads these settings back from (no password in it)."""
        if self.password and not self.password_file:
            raise KafkaSecurityError("a password given by value cannot go into an environment")
        values = {
            "SECURITY_PROTOCOL": self.protocol,
            "CA_FILE": self.ca_file or "",
            "USERNAME": self.username or "",
            "PASSWORD_FILE": self.password_file or "",
        }
        return {ENV_PREFIX + name: value for name, value in values.items() if value}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KafkaSecurity:
        def value(name: str) -> str | None:
            return env.get(ENV_PREFIX + name, "").strip() or None

        return cls(
            protocol=value("SECURITY_PROTOCOL") or PLAINTEXT,
            ca_file=value("CA_FILE"),
            username=value("USERNAME"),
            password_file=value("PASSWORD_FILE"),
        )


PLAINTEXT_SECURITY = KafkaSecurity()


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of an environment file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise KafkaSecurityError(
            f"the Kafka client settings {path} cannot be read: {error}"
        ) from None
    for line in text.splitlines():
        name, equals, value = line.strip().partition("=")
        if equals and name and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def operator_security(
    env: Mapping[str, str] | None = None, config_file: Path = OPERATOR_CONFIG_FILE
) -> KafkaSecurity:
    """How an operator's tool on this machine reaches Kafka: the LENDSTREAM_KAFKA_* variables
    when ``env`` (default: the process environment) sets the protocol, else ``config_file``
    when it exists (a secured cluster's node), else plaintext."""
    env = os.environ if env is None else env
    if env.get(ENV_PREFIX + "SECURITY_PROTOCOL", "").strip():
        return KafkaSecurity.from_env(env)
    if config_file.exists():
        return KafkaSecurity.from_env(read_env_file(config_file))
    return PLAINTEXT_SECURITY
