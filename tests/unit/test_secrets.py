"""Fresh deployment secrets go into a real Ansible Vault, never into plain text."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from lendstream import pki, secrets
from lendstream.pipeline.sealing import parse_key
from lendstream.secrets import (
    CA_CERT_NAME,
    CA_KEY_NAME,
    KAFKA_CLUSTER_ID_NAME,
    SECRET_NAMES,
    SecretsError,
    begin_rotation,
    ensure_password_file,
    finish_rotation,
    new_secrets,
    read_vault,
    vault_file,
    write_vault,
)


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    return tmp_path / "inventories" / "prod"


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    return tmp_path / "config" / "prod.pass"


def test_new_writes_an_encrypted_vault_with_every_secret(
    inventory: Path, password_file: Path
) -> None:
    every_name = sorted([*SECRET_NAMES, CA_CERT_NAME, CA_KEY_NAME, KAFKA_CLUSTER_ID_NAME])
    assert sorted(new_secrets(inventory, password_file)) == every_name
    text = vault_file(inventory).read_text()
    assert text.startswith("$ANSIBLE_VAULT;1.1;AES256")
    assert "PRIVATE KEY" not in text
    assert "CERTIFICATE" not in text
    values = read_vault(inventory, password_file)
    assert sorted(values) == every_name
    cluster_id = values.pop(KAFKA_CLUSTER_ID_NAME)
    assert len(cluster_id) == 22
    assert not cluster_id.startswith("-")
    assert cluster_id not in text
    assert all(len(value) >= 40 and value not in text for value in values.values())
    assert len(set(values.values())) == len(every_name) - 1
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert len(parse_key(values["vault_topology_tuple_key"])) == 32  # an AES-256 key


def test_running_again_keeps_the_secrets_and_rotate_replaces_them(
    inventory: Path, password_file: Path
) -> None:
    new_secrets(inventory, password_file)
    first = read_vault(inventory, password_file)
    assert new_secrets(inventory, password_file) == []
    assert read_vault(inventory, password_file) == first
    regenerated = new_secrets(inventory, password_file, rotate=True)
    assert sorted(regenerated) == sorted([*SECRET_NAMES, CA_CERT_NAME, CA_KEY_NAME])
    rotated = read_vault(inventory, password_file)
    assert all(rotated[name] != first[name] for name in regenerated)
    # The KRaft cluster id is the deployment's identity, not a secret: never replaced.
    assert rotated[KAFKA_CLUSTER_ID_NAME] == first[KAFKA_CLUSTER_ID_NAME]


def test_a_vault_made_before_the_cluster_id_moved_takes_over_the_checkouts_id(
    inventory: Path, password_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_secrets(inventory, password_file)
    earlier = read_vault(inventory, password_file)
    del earlier[KAFKA_CLUSTER_ID_NAME]
    write_vault(inventory, password_file, earlier)
    legacy_dir = tmp_path / "checkout-cache"
    (legacy_dir / inventory.name).mkdir(parents=True)
    (legacy_dir / inventory.name / "kafka-cluster-id").write_text("Formatted0ClusterId123\n")
    monkeypatch.setattr(secrets, "LEGACY_KAFKA_CLUSTER_ID_DIR", legacy_dir)
    assert new_secrets(inventory, password_file) == [KAFKA_CLUSTER_ID_NAME]
    now = read_vault(inventory, password_file)
    assert now[KAFKA_CLUSTER_ID_NAME] == "Formatted0ClusterId123"
    assert {name: now[name] for name in earlier} == earlier


def test_a_deployment_made_before_the_loader_account_gets_only_its_password(
    inventory: Path, password_file: Path
) -> None:
    new_secrets(inventory, password_file)
    earlier = read_vault(inventory, password_file)
    del earlier["vault_mysql_loader_password"]
    write_vault(inventory, password_file, earlier)
    assert new_secrets(inventory, password_file) == ["vault_mysql_loader_password"]
    now = read_vault(inventory, password_file)
    assert {name: now[name] for name in earlier} == earlier
    assert len(now["vault_mysql_loader_password"]) >= 40


def test_the_vault_holds_a_working_ca_for_the_deployment(
    inventory: Path, password_file: Path
) -> None:
    new_secrets(inventory, password_file)
    values = read_vault(inventory, password_file)
    ca = pki.Issued(cert_pem=values[CA_CERT_NAME], key_pem=values[CA_KEY_NAME])
    assert "prod" in pki.load_certificate(ca.cert_pem).subject.rfc4514_string()
    names = pki.HostNames("w1", ("w1", "w1.lendstream.internal"), ("192.168.56.21",))
    host = pki.issue_host_certificate(ca, names)
    assert pki.renewal_reason(host.cert_pem, ca.cert_pem, names) is None


def test_a_vault_made_before_the_ca_gets_one_and_keeps_its_secrets(
    inventory: Path, password_file: Path
) -> None:
    new_secrets(inventory, password_file)
    without_ca = {
        name: value
        for name, value in read_vault(inventory, password_file).items()
        if name not in (CA_CERT_NAME, CA_KEY_NAME, "vault_applicant_api_token")
    }
    write_vault(inventory, password_file, without_ca)
    added = new_secrets(inventory, password_file)
    assert sorted(added) == sorted(["vault_applicant_api_token", CA_CERT_NAME, CA_KEY_NAME])
    after = read_vault(inventory, password_file)
    assert all(after[name] == value for name, value in without_ca.items())


def test_a_wrong_vault_password_is_refused(
    inventory: Path, password_file: Path, tmp_path: Path
) -> None:
    new_secrets(inventory, password_file)
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not the password\n")
    wrong.chmod(0o600)
    with pytest.raises(SecretsError, match="ansible-vault view failed"):
        read_vault(inventory, wrong)


def test_a_password_file_others_can_read_is_refused(password_file: Path) -> None:
    ensure_password_file(password_file)
    password_file.chmod(0o644)
    with pytest.raises(SecretsError, match="chmod 600"):
        ensure_password_file(password_file)


def test_a_rotation_keeps_the_old_token_until_it_finishes(tmp_path: Path) -> None:
    inventory, password = tmp_path / "inventory", tmp_path / "vault.pass"
    new_secrets(inventory, password)
    before = read_vault(inventory, password)
    begin_rotation(inventory, password, "vault_risk_service_token")
    during = read_vault(inventory, password)
    assert during["vault_risk_service_token_previous"] == before["vault_risk_service_token"]
    assert during["vault_risk_service_token"] != before["vault_risk_service_token"]
    assert during["vault_mysql_admin_password"] == before["vault_mysql_admin_password"]
    with pytest.raises(SecretsError, match="already under way"):
        begin_rotation(inventory, password, "vault_risk_service_token")
    finish_rotation(inventory, password, "vault_risk_service_token")
    after = read_vault(inventory, password)
    assert "vault_risk_service_token_previous" not in after
    assert after["vault_risk_service_token"] == during["vault_risk_service_token"]


def test_only_the_tokens_made_for_it_rotate_this_way(tmp_path: Path) -> None:
    new_secrets(tmp_path / "inventory", tmp_path / "vault.pass")
    with pytest.raises(SecretsError, match="cannot be rotated"):
        begin_rotation(
            tmp_path / "inventory", tmp_path / "vault.pass", "vault_mysql_admin_password"
        )


def test_a_kafka_rotation_renews_the_clients_passwords_together_and_flips_their_users(
    tmp_path: Path,
) -> None:
    inventory, password = tmp_path / "inventory", tmp_path / "vault.pass"
    new_secrets(inventory, password)
    before = read_vault(inventory, password)
    names = secrets.ROTATIONS["kafka"]
    for slot, previous_slot in (("b", "a"), ("a", "b")):  # a, the default, then back
        begin_rotation(inventory, password, "kafka")
        during = read_vault(inventory, password)
        for name in names:
            assert during[name + "_previous"] == before[name]
            assert during[name] not in {before[name], ""}
        assert during["vault_kafka_user_slot"] == slot
        assert during["vault_kafka_user_slot_previous"] == previous_slot
        # Nothing else moves: the admin's and the broker's passwords, MariaDB's, the token.
        unchanged = set(before) - {*names, "vault_kafka_user_slot"}
        assert {key: during[key] for key in unchanged} == {key: before[key] for key in unchanged}
        finish_rotation(inventory, password, "kafka")
        after = read_vault(inventory, password)
        assert not [key for key in after if key.endswith("_previous")]
        assert after["vault_kafka_user_slot"] == slot
        before = after


def test_a_mysql_rotation_keeps_both_service_passwords_until_it_finishes(tmp_path: Path) -> None:
    inventory, password = tmp_path / "inventory", tmp_path / "vault.pass"
    new_secrets(inventory, password)
    before = read_vault(inventory, password)
    begin_rotation(inventory, password, "mysql")
    during = read_vault(inventory, password)
    for name in ("vault_mysql_loader_password", "vault_applicant_api_mysql_password"):
        assert during[name + "_previous"] == before[name]
        assert during[name] != before[name]
    assert during["vault_mysql_admin_password"] == before["vault_mysql_admin_password"]
    assert "vault_kafka_user_slot" not in during
    with pytest.raises(SecretsError, match="already under way"):
        begin_rotation(inventory, password, "mysql")
    finish_rotation(inventory, password, "mysql")
    assert sorted(read_vault(inventory, password)) == sorted(before)


@pytest.mark.parametrize("slot", ["a", "b"])
def test_the_current_kafka_users_are_named_as_the_playbooks_name_them(slot: str) -> None:
    """lendstream.secrets.current_kafka_users (the chaos runner's sign-in check) against
    playbooks/vars/kafka_users.yml, which names each slot's users for the roles."""
    names = yaml.safe_load(
        (Path(__file__).parents[2] / "ansible/playbooks/vars/kafka_users.yml").read_text()
    )
    suffix = names["site_kafka_user_suffixes"][slot]
    expected = {f"lendstream-{client}{suffix}" for client in names["site_kafka_clients"]}
    expected |= {names["site_kafka_admin_users"][slot], names["site_kafka_broker_users"][slot]}
    vault = {secret: f"password of {secret}" for secret in secrets.KAFKA_USERS}
    vault[secrets.KAFKA_USER_SLOT_NAME] = slot
    users = secrets.current_kafka_users(vault)
    assert set(users) == expected
    assert users[names["site_kafka_admin_users"][slot]] == "password of vault_kafka_admin_password"


def test_the_confidential_names_are_every_secret_and_the_ca_key_not_the_public_entries(
    tmp_path: Path,
) -> None:
    inventory, password = tmp_path / "inv", tmp_path / "vault.pass"
    new_secrets(inventory, password)
    begin_rotation(inventory, password, "vault_risk_service_token")
    vault = read_vault(inventory, password)

    names = secrets.confidential_names(vault)

    assert set(SECRET_NAMES) | {CA_KEY_NAME} <= set(names)
    assert "vault_risk_service_token_previous" in names
    assert not {CA_CERT_NAME, KAFKA_CLUSTER_ID_NAME, secrets.KAFKA_USER_SLOT_NAME} & set(names)
    assert set(names) <= set(vault)
