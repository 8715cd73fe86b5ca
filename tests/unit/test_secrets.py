"""Fresh deployment secrets go into a real Ansible Vault, never into plain text."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from lendstream.secrets import (
    SECRET_NAMES,
    SecretsError,
    begin_rotation,
    ensure_password_file,
    finish_rotation,
    new_secrets,
    read_vault,
    vault_file,
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
    assert sorted(new_secrets(inventory, password_file)) == sorted(SECRET_NAMES)
    text = vault_file(inventory).read_text()
    assert text.startswith("$ANSIBLE_VAULT;1.1;AES256")
    values = read_vault(inventory, password_file)
    assert set(values) == set(SECRET_NAMES)
    assert all(len(value) >= 40 and value not in text for value in values.values())
    assert len(set(values.values())) == len(SECRET_NAMES)
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600


def test_running_again_keeps_the_secrets_and_rotate_replaces_them(
    inventory: Path, password_file: Path
) -> None:
    new_secrets(inventory, password_file)
    first = read_vault(inventory, password_file)
    assert new_secrets(inventory, password_file) == []
    assert read_vault(inventory, password_file) == first
    assert sorted(new_secrets(inventory, password_file, rotate=True)) == sorted(SECRET_NAMES)
    rotated = read_vault(inventory, password_file)
    assert all(rotated[name] != first[name] for name in SECRET_NAMES)


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
