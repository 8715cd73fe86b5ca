"""Fresh secrets for a deployment, kept in Ansible Vault.

    python -m lendstream.secrets new --inventory-dir ansible/inventories/montana [--rotate]
    python -m lendstream.secrets show --inventory-dir ansible/inventories/montana
    python -m lendstream.secrets rotate-begin|rotate-finish --inventory-dir … [--name ROTATION]

Writes ``<inventory-dir>/group_vars/all/vault.yml``, encrypted with ``ansible-vault``: the MySQL
passwords (admin, the applicant loader's account, the applicant API's read-only account), Kafka's
SCRAM passwords (admin, broker, producer, topology, operator), the bearer tokens of the risk
service and the applicant API, the key that seals the topology's tuples, and the deployment's
certificate authority
(``vault_pki_ca_cert``, ``vault_pki_ca_key``: lendstream.pki; its key stays on the controller, in
this vault). ``new`` adds only what is missing, so an existing deployment gets a
newly introduced secret (e.g. ``vault_mysql_loader_password``) on the next ``make secrets``.
A token or a set of passwords is rotated in two steps around its playbook (``make
rotate-risk-token``, ``rotate-kafka-passwords``, ``rotate-mysql-passwords``; the tuple key
around ``make deploy-topology``; ``ROTATIONS``):
``rotate-begin`` keeps each current value as ``<name>_previous`` (still accepted) and generates
a new one; ``rotate-finish`` drops the ``_previous`` values.
The vault password is generated too, into a file outside the repository
(``~/.config/lendstream/vault/<inventory>.pass``, mode 0600), which is what a team shares out of
band; plays read it with ``--vault-password-file`` or ``ANSIBLE_VAULT_PASSWORD_FILE``. The
encrypted vault itself may be committed: nothing secret is ever written in plain text.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from lendstream import pki
from lendstream.cluster import REPO_ROOT

# Variable names the roles read (applicant_api, risk_service, mysql roles).
SECRET_NAMES = (
    "vault_mysql_admin_password",
    "vault_mysql_loader_password",
    "vault_applicant_api_mysql_password",
    "vault_risk_service_token",
    "vault_applicant_api_token",
    # Kafka's SCRAM-SHA-512 users (role kafka, with kafka_security_enabled): the administrator
    # and the brokers' own (both made at the first format), then one per client.
    "vault_kafka_admin_password",
    "vault_kafka_broker_password",
    "vault_kafka_producer_password",
    "vault_kafka_topology_password",
    "vault_kafka_operator_password",
    # Storm's ZooKeeper digest password (role storm: storm_zookeeper_auth_password).
    "vault_storm_zookeeper_password",
    # The key sealing what the topology's components hand each other across the cluster network
    # (role topology: topology_tuple_key; lendstream.pipeline.sealing): 32 random bytes.
    "vault_topology_tuple_key",
    # The password of the Hadoop web servers' PKCS12 keystore and truststore (role hdfs:
    # hdfs_tls_keystore_password, with lendstream_tls).
    "vault_hadoop_keystore_password",
)
# The deployment's KRaft cluster id: made once, never rotated. A controller formatted with one id
# refuses a node formatted with another, so every checkout that deploys the inventory must render
# the same id: it lives with the inventory, not in a checkout (playbooks/vars/kafka.yml).
KAFKA_CLUSTER_ID_NAME = "vault_kafka_cluster_id"
# Where a checkout kept the id before it moved into the Vault (taken over once, so a deployed
# cluster keeps its id).
LEGACY_KAFKA_CLUSTER_ID_DIR = REPO_ROOT / ".cache" / "deploy"
# The deployment's certificate authority (role pki): made together, kept together.
CA_CERT_NAME = "vault_pki_ca_cert"
CA_KEY_NAME = "vault_pki_ca_key"
SECRET_BYTES = 32
VAULT_TIMEOUT_S = 60.0


class SecretsError(RuntimeError):
    """A vault could not be written or read; says which file and why."""


def new_kafka_cluster_id() -> str:
    """A random UUID in URL-safe base64, as `kafka-storage random-uuid` prints one: never with a
    leading '-', which the storage tool's argument parser would take for an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _kafka_cluster_id_for(inventory_dir: Path) -> str:
    legacy = LEGACY_KAFKA_CLUSTER_ID_DIR / inventory_dir.resolve().name / "kafka-cluster-id"
    taken_over = legacy.read_text().strip() if legacy.is_file() else ""
    return taken_over or new_kafka_cluster_id()


def vault_file(inventory_dir: Path) -> Path:
    return inventory_dir / "group_vars" / "all" / "vault.yml"


def default_password_file(inventory_dir: Path) -> Path:
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "lendstream" / "vault" / f"{inventory_dir.resolve().name}.pass"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def ensure_password_file(path: Path) -> Path:
    """The vault password file, generated (0600) when absent."""
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(SECRET_BYTES) + "\n")
    if path.stat().st_mode & 0o077:
        raise SecretsError(f"{path} is readable by others; chmod 600 it")
    return path


def _ansible_vault(*args: str, input_text: str | None = None) -> str:
    binary = Path(sys.executable).with_name("ansible-vault")
    result = subprocess.run(
        [str(binary), *args],
        input=input_text,
        capture_output=True,
        text=True,
        timeout=VAULT_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise SecretsError(f"ansible-vault {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def read_vault(inventory_dir: Path, password_file: Path) -> dict[str, str]:
    path = vault_file(inventory_dir)
    text = _ansible_vault("view", "--vault-password-file", str(password_file), str(path))
    values = yaml.safe_load(text) or {}
    if not isinstance(values, dict):
        raise SecretsError(f"{path} does not hold a mapping of secrets")
    return {str(key): str(value) for key, value in values.items()}


def write_vault(inventory_dir: Path, password_file: Path, values: Mapping[str, str]) -> Path:
    """Encrypt ``values`` into the inventory's vault; plain text only ever in a 0600 temp file."""
    path = vault_file(inventory_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lendstream-vault-") as scratch:
        plain = Path(scratch) / "vault.yml"
        _write_private(plain, "---\n" + yaml.safe_dump(dict(values), sort_keys=True))
        _ansible_vault("encrypt", "--vault-password-file", str(password_file), str(plain))
        path.write_text(plain.read_text())
    return path


def new_secrets(inventory_dir: Path, password_file: Path, rotate: bool = False) -> list[str]:
    """Generate the secrets missing from the vault (all of them with ``rotate``, but for the
    Kafka cluster id, which is never replaced); the names that were (re)generated. A new CA makes
    the next deployment replace every host certificate."""
    ensure_password_file(password_file)
    current = read_vault(inventory_dir, password_file) if vault_file(inventory_dir).exists() else {}
    generated = [name for name in SECRET_NAMES if rotate or not current.get(name)]
    updated = dict(current)
    updated.update({name: secrets.token_urlsafe(SECRET_BYTES) for name in generated})
    if rotate or not (current.get(CA_CERT_NAME) and current.get(CA_KEY_NAME)):
        ca = pki.new_ca(f"lendstream {inventory_dir.resolve().name} CA")
        updated.update({CA_CERT_NAME: ca.cert_pem, CA_KEY_NAME: ca.key_pem})
        generated += [CA_CERT_NAME, CA_KEY_NAME]
    if not current.get(KAFKA_CLUSTER_ID_NAME):
        updated[KAFKA_CLUSTER_ID_NAME] = _kafka_cluster_id_for(inventory_dir)
        generated.append(KAFKA_CLUSTER_ID_NAME)
    if generated:
        write_vault(inventory_dir, password_file, updated)
    return generated


# Each Kafka user's name in slot a, by its password's Vault name; slot b's adds "-b" (as
# playbooks/vars/kafka_users.yml names them).
KAFKA_USERS = {
    "vault_kafka_producer_password": "lendstream-producer",
    "vault_kafka_topology_password": "lendstream-topology",
    "vault_kafka_operator_password": "lendstream-operator",
    "vault_kafka_admin_password": "admin",
    "vault_kafka_broker_password": "broker",
}
# What ``rotate-begin``/``rotate-finish`` rotate, by name: the secrets each rotation replaces
# together (its playbook switches their clients together; docs/security.md, "Rotation").
ROTATIONS: dict[str, tuple[str, ...]] = {
    "vault_risk_service_token": ("vault_risk_service_token",),  # playbooks/rotate-risk-token.yml
    # playbooks/rotate-kafka-passwords.yml: the SCRAM users of the clients, the administrator and
    # the brokers, which alternate (below)
    "kafka": tuple(KAFKA_USERS),
    # playbooks/rotate-mysql-passwords.yml: MariaDB's service accounts (both passwords accepted
    # while their clients switch)
    "mysql": ("vault_mysql_loader_password", "vault_applicant_api_mysql_password"),
    # playbooks/deploy-topology.yml: a new key is a new submission, which replaces the running
    # topology (drained with the old key, then started with the new one); the previous value is
    # kept only until rotate-finish, nothing reads it.
    "vault_topology_tuple_key": ("vault_topology_tuple_key",),
}
ROTATABLE = tuple(ROTATIONS)
PREVIOUS_SUFFIX = "_previous"
# Kafka keeps one SCRAM password per user and mechanism, so its clients' users alternate between
# two of the same grants: slot "a" (the historical names) and slot "b" (playbooks/vars/
# kafka_users.yml). Not a secret; kept in the Vault because it is per deployment, as the users.
KAFKA_USER_SLOT_NAME = "vault_kafka_user_slot"
KAFKA_USER_SLOTS = ("a", "b")


def current_kafka_user(vault: dict[str, str], secret: str) -> tuple[str, str]:
    """The Kafka user of the Vault's current slot whose password is ``secret`` (a key of
    KAFKA_USERS), and that password."""
    suffix = "" if (vault.get(KAFKA_USER_SLOT_NAME) or KAFKA_USER_SLOTS[0]) == "a" else "-b"
    return KAFKA_USERS[secret] + suffix, vault[secret]


def current_kafka_users(vault: dict[str, str]) -> dict[str, str]:
    """The Kafka users of the Vault's current slot, with their passwords."""
    return dict(current_kafka_user(vault, secret) for secret in KAFKA_USERS if vault.get(secret))


def confidential_names(vault_names: Iterable[str]) -> list[str]:
    """The Vault entries that no log, journal or command line may ever show: every secret, the
    one a rotation keeps (``_previous``) and the CA's key; not the CA certificate, the Kafka
    cluster id or the user slot, which are per deployment but not secret."""
    wanted = {*SECRET_NAMES, *(name + PREVIOUS_SUFFIX for name in SECRET_NAMES), CA_KEY_NAME}
    return sorted(name for name in vault_names if name in wanted)


def begin_rotation(inventory_dir: Path, password_file: Path, name: str) -> None:
    """New values for the secrets of rotation ``name``; each current one stays accepted as
    ``<secret>_previous`` (for "kafka", the users' slot flips, the previous one kept too)."""
    if name not in ROTATIONS:
        raise SecretsError(f"{name} cannot be rotated this way; these can: {', '.join(ROTATABLE)}")
    current = read_vault(inventory_dir, password_file)
    names = ROTATIONS[name]
    under_way = [secret for secret in names if current.get(secret + PREVIOUS_SUFFIX)]
    if under_way:
        raise SecretsError(
            f"a rotation of {name} is already under way ({under_way[0]}{PREVIOUS_SUFFIX} is set): "
            "run the rotation playbook again, then rotate-finish"
        )
    missing = [secret for secret in names if not current.get(secret)]
    if missing:
        raise SecretsError(f"nothing to rotate: {', '.join(missing)} missing (make secrets)")
    updated = dict(current)
    for secret in names:
        updated[secret + PREVIOUS_SUFFIX] = current[secret]
        updated[secret] = secrets.token_urlsafe(SECRET_BYTES)
    if name == "kafka":
        slot = current.get(KAFKA_USER_SLOT_NAME) or KAFKA_USER_SLOTS[0]
        updated[KAFKA_USER_SLOT_NAME + PREVIOUS_SUFFIX] = slot
        updated[KAFKA_USER_SLOT_NAME] = next(other for other in KAFKA_USER_SLOTS if other != slot)
    write_vault(inventory_dir, password_file, updated)


def finish_rotation(inventory_dir: Path, password_file: Path, name: str) -> None:
    """The old values are no longer accepted anywhere: forget them."""
    if name not in ROTATIONS:
        raise SecretsError(f"{name} cannot be rotated this way; these can: {', '.join(ROTATABLE)}")
    current = read_vault(inventory_dir, password_file)
    extra = (KAFKA_USER_SLOT_NAME,) if name == "kafka" else ()
    previous = {secret + PREVIOUS_SUFFIX for secret in (*ROTATIONS[name], *extra)}
    if previous & set(current):
        write_vault(
            inventory_dir,
            password_file,
            {key: value for key, value in current.items() if key not in previous},
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lendstream secrets", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["new", "show", "rotate-begin", "rotate-finish"])
    parser.add_argument("--inventory-dir", type=Path, required=True)
    parser.add_argument("--vault-password-file", type=Path, default=None)
    parser.add_argument("--rotate", action="store_true", help="replace every existing secret")
    parser.add_argument(
        "--name", choices=ROTATABLE, default=ROTATABLE[0], help="the rotation (its secrets)"
    )
    args = parser.parse_args(argv)
    password_file = args.vault_password_file or default_password_file(args.inventory_dir)
    try:
        if args.action == "new":
            generated = new_secrets(args.inventory_dir, password_file, args.rotate)
            print(f"vault: {vault_file(args.inventory_dir)}")
            print(f"vault password file: {password_file} (share it out of band; never commit it)")
            print("generated: " + (", ".join(generated) or "nothing (all present; --rotate)"))
        elif args.action == "rotate-begin":
            begin_rotation(args.inventory_dir, password_file, args.name)
            for secret in ROTATIONS[args.name]:
                print(f"{secret}: new value; the old one is kept as {secret}{PREVIOUS_SUFFIX}")
        elif args.action == "rotate-finish":
            finish_rotation(args.inventory_dir, password_file, args.name)
            print(f"{args.name}: the previous values are removed")
        else:
            names = read_vault(args.inventory_dir, password_file)
            print("\n".join(f"{name}: <{len(value)} characters>" for name, value in names.items()))
    except (SecretsError, OSError) as error:
        print(f"secrets: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
