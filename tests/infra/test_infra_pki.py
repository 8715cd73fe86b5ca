"""Every node's certificate (role pki): signed by this deployment's CA (the one in the inventory's
Vault), naming the node and its cluster address, not expiring within 30 days; its key private to
root and the TLS group, and the key of that certificate; the CA's certificate beside it."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from infra_cluster import address, inventory_vault, variables

from lendstream import pki
from lendstream.secrets import CA_CERT_NAME

testinfra_hosts = ["ansible://all"]

TLS_DIR = "/etc/lendstream/tls"  # role pki's pki_dir (an inventory may set pki_dir)
KEY_GROUP = "lendstream-tls"  # role pki's pki_key_group (an inventory may set pki_key_group)
MINIMUM_DAYS_LEFT = 30


@pytest.fixture(scope="session")
def deployment_ca(pytestconfig: pytest.Config) -> x509.Certificate:
    """The CA certificate of the inventory's Vault (what the controller signs with)."""
    vault = inventory_vault(pytestconfig.getoption("ansible_inventory"))
    return pki.load_certificate(vault[CA_CERT_NAME])


def _tls_dir(host: Any) -> str:
    return str(variables(host).get("pki_dir", TLS_DIR))


def _public_key(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def test_the_node_trusts_the_deployment_ca(host: Any, deployment_ca: x509.Certificate) -> None:
    ca_file = host.file(f"{_tls_dir(host)}/ca.crt")
    assert ca_file.user == "root"
    assert ca_file.mode == 0o644, oct(ca_file.mode)
    assert pki.load_certificate(ca_file.content_string) == deployment_ca


def test_the_node_certificate_is_signed_by_the_ca_and_names_the_node(
    host: Any, deployment_ca: x509.Certificate
) -> None:
    cert = pki.load_certificate(host.file(f"{_tls_dir(host)}/node.crt").content_string)
    cert.verify_directly_issued_by(deployment_ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    name = variables(host)["inventory_hostname"]
    assert name in sans.get_values_for_type(x509.DNSName)
    assert address(host) in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    days_left = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert days_left > datetime.timedelta(days=MINIMUM_DAYS_LEFT), f"{name}: expires {days_left}"


def test_the_node_key_is_private_and_belongs_to_its_certificate(host: Any) -> None:
    with host.sudo():
        key_file = host.file(f"{_tls_dir(host)}/node.key")
        assert key_file.user == "root"
        assert key_file.group == variables(host).get("pki_key_group", KEY_GROUP)
        assert key_file.mode == 0o640, oct(key_file.mode)
        key = serialization.load_pem_private_key(key_file.content, password=None)
    cert = pki.load_certificate(host.file(f"{_tls_dir(host)}/node.crt").content_string)
    assert _public_key(key.public_key()) == _public_key(cert.public_key())
