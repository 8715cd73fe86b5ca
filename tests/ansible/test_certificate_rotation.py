"""The certificate rotation (playbooks/rotate-certificates.yml): role pki's explicit force, applied
for real on this machine (a deploy keeps a good certificate; the force replaces it with another
of the same CA, key and certificate installed together), and the playbook's shape: one node at a
time, forced, covering every role that serves the node's certificate."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from lendstream import pki

ANSIBLE_DIR = Path(__file__).resolve().parents[2] / "ansible"
PLAYBOOK = ANSIBLE_DIR / "playbooks" / "rotate-certificates.yml"
RENDER_PKI = Path(__file__).with_name("render-pki.yml")
PLAYBOOK_TIMEOUT_S = 300
NAMES = pki.HostNames("w1", ("w1", "w1.lendstream.internal"), ("192.168.56.21",))


def _apply_pki(tmp_path: Path, ca: pki.Issued, *extra: str) -> str:
    variables = tmp_path / "vars.json"
    variables.write_text(
        json.dumps(
            {"render_dir": str(tmp_path), "pki_ca_cert": ca.cert_pem, "pki_ca_key": ca.key_pem}
        )
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            *("-i", "localhost,", str(RENDER_PKI), "-e", f"@{variables}"),
            *extra,
        ],
        cwd=ANSIBLE_DIR,
        env={**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


def _installed(tmp_path: Path) -> tuple[int, bytes, bytes]:
    """The installed certificate's serial, its public key and the key file's public key."""
    cert = pki.load_certificate((tmp_path / "tls" / "node.crt").read_text())
    key = serialization.load_pem_private_key((tmp_path / "tls" / "node.key").read_bytes(), None)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return (
        cert.serial_number,
        cert.public_key().public_bytes(*spki),
        key.public_key().public_bytes(*spki),
    )


def test_the_role_keeps_a_good_certificate_and_the_force_replaces_it(tmp_path: Path) -> None:
    ca = pki.new_ca("lendstream test CA")
    first = _apply_pki(tmp_path, ca)
    assert "no certificate yet" in first
    serial, cert_key, key = _installed(tmp_path)
    assert cert_key == key

    again = _apply_pki(tmp_path, ca)
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0 ", again), again[-1500:]
    assert _installed(tmp_path)[0] == serial

    forced = _apply_pki(tmp_path, ca, "-e", "pki_force_renew=true")
    assert pki.FORCED_REASON in forced
    new_serial, new_cert_key, new_key = _installed(tmp_path)
    assert new_serial != serial
    assert new_cert_key == new_key != key
    new_cert = (tmp_path / "tls" / "node.crt").read_text()
    assert pki.renewal_reason(new_cert, ca.cert_pem, NAMES) is None  # the same CA and names
    assert sorted(path.name for path in (tmp_path / "tls").iterdir()) == [
        "ca.crt",
        "node.crt",
        "node.key",
    ]
    assert oct((tmp_path / "tls" / "node.key").stat().st_mode & 0o777) == "0o640"


def _plays() -> list[dict[str, Any]]:
    return yaml.safe_load(PLAYBOOK.read_text())


def test_the_rotation_renews_one_node_at_a_time_and_always_forces() -> None:
    ordering, rotation = _plays()
    assert ordering["hosts"] == "all"
    assert rotation["hosts"] == "rotate_certificates_order"
    assert rotation["serial"] == 1
    assert rotation["any_errors_fatal"] is True
    assert rotation["vars"]["pki_force_renew"] is True
    tasks = rotation["tasks"]
    assert tasks[-1]["ansible.builtin.assert"]["that"].startswith(
        "rotate_certificates_after.content !="
    )


def test_only_the_rotation_forces_a_renewal() -> None:
    setting = re.compile(r"^\s*pki_force_renew:\s*true", re.M | re.I)
    forcing = [
        path.relative_to(ANSIBLE_DIR)
        for path in [ANSIBLE_DIR / "site.yml", *(ANSIBLE_DIR / "playbooks").rglob("*.yml")]
        if setting.search(path.read_text())
    ]
    assert forcing == [PLAYBOOK.relative_to(ANSIBLE_DIR)]
    default = yaml.safe_load((ANSIBLE_DIR / "roles/pki/defaults/main.yml").read_text())
    assert default["pki_force_renew"] is False


@pytest.mark.parametrize(
    "role",
    sorted(
        path.parents[1].name
        for path in (ANSIBLE_DIR / "roles").glob("*/defaults/main.yml")
        if "/etc/lendstream/tls/node.crt" in path.read_text()
    ),
)
def test_every_role_serving_the_node_certificate_is_rotated(role: str) -> None:
    """A role whose daemon serves role pki's certificate is applied by the rotation."""
    names = {
        task["ansible.builtin.include_role"]["name"]
        for task in _plays()[1]["tasks"]
        for task in [task, *task.get("block", [])]
        if "ansible.builtin.include_role" in task
    }
    assert role in names
