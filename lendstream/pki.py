"""The deployment's certificate authority and its hosts' certificates (with ``cryptography``).

One CA per deployment, made by :mod:`lendstream.secrets` into the inventory's Ansible Vault
(``vault_pki_ca_cert``, ``vault_pki_ca_key``): its key never leaves the controller. Each node's
certificate is issued on the controller by the ``pki`` role, which runs

    python -m lendstream.pki host-cert < request.json

delegated to the controller with a JSON request on stdin (the CA, the node's current certificate
if any, its names and addresses) and pushes what it prints: ``{"reason": null}`` when the current
certificate is still good, else ``{"reason": "<why>", "cert": PEM, "key": PEM}`` — a new key and a
certificate for it. A certificate is renewed when it is missing, not signed by this CA, names
other hosts or addresses than asked, or expires within ``renew_within_days``; or whatever its state
when the request says ``"force": true`` (the role's ``pki_force_renew``, which only the rotation
playbook ``playbooks/rotate-certificates.yml`` sets).

Keys are ECDSA P-256: small, fast handshakes, and understood by OpenSSL, Java and Python alike.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
HOST_DAYS = 397  # the longest lifetime browsers accept; the role renews well before
RENEW_WITHIN_DAYS = 30
FORCED_REASON = "renewal forced (pki_force_renew: a certificate rotation)"
# Certificates are back-dated this much, so a node whose clock lags a little accepts them.
BACKDATE = datetime.timedelta(minutes=5)


class PkiError(ValueError):
    """A certificate or key that cannot be used; says which and why."""


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate and its private key, both PEM text."""

    cert_pem: str
    key_pem: str


@dataclass(frozen=True, slots=True)
class HostNames:
    """What a host certificate must name: DNS names and IP addresses (its SANs)."""

    common_name: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...] = ()

    def subject_alternative_names(self) -> list[x509.GeneralName]:
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in self.dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in self.ip_addresses]
        return names


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _public_der(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_certificate(pem: str, what: str = "certificate") -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise PkiError(f"the {what} is not a PEM certificate: {error}") from None


def _load_ca(ca: Issued) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = load_certificate(ca.cert_pem, "CA certificate")
    try:
        key = serialization.load_pem_private_key(ca.key_pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise PkiError(f"the CA key is not an unencrypted PEM key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"the CA key is a {type(key).__name__}, not an EC key")
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        raise PkiError("the CA key does not belong to the CA certificate")
    return cert, key


def new_ca(name: str, days: int = CA_DAYS, now: datetime.datetime | None = None) -> Issued:
    """A self-signed CA that may sign host certificates only (path length 0)."""
    now = now or _now()
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert_pem=_cert_pem(cert), key_pem=_key_pem(key))


def issue_host_certificate(
    ca: Issued, names: HostNames, days: int = HOST_DAYS, now: datetime.datetime | None = None
) -> Issued:
    """A new key and a server-and-client certificate for it, signed by ``ca``."""
    if not names.dns_names and not names.ip_addresses:
        raise PkiError(f"a certificate for {names.common_name!r} must name a host or an address")
    ca_cert, ca_key = _load_ca(ca)
    now = now or _now()
    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names.common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(names.subject_alternative_names()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Issued(cert_pem=_cert_pem(cert), key_pem=_key_pem(key))


def _san_set(names: HostNames) -> set[str]:
    return {f"DNS:{name.lower()}" for name in names.dns_names} | {
        f"IP:{ipaddress.ip_address(ip)}" for ip in names.ip_addresses
    }


def _cert_san_set(cert: x509.Certificate) -> set[str]:
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return set()
    sans = extension.value
    return {f"DNS:{name.lower()}" for name in sans.get_values_for_type(x509.DNSName)} | {
        f"IP:{address}" for address in sans.get_values_for_type(x509.IPAddress)
    }


def renewal_reason(
    cert_pem: str | None,
    ca_cert_pem: str,
    names: HostNames,
    renew_within_days: int = RENEW_WITHIN_DAYS,
    now: datetime.datetime | None = None,
) -> str | None:
    """Why the host certificate ``cert_pem`` must be replaced, or None when it is still good."""
    if not cert_pem or not cert_pem.strip():
        return "no certificate yet"
    try:
        cert = load_certificate(cert_pem)
    except PkiError as error:
        return str(error)
    ca_cert = load_certificate(ca_cert_pem, "CA certificate")
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return f"not signed by this deployment's CA ({ca_cert.subject.rfc4514_string()})"
    wanted, present = _san_set(names), _cert_san_set(cert)
    if wanted != present:
        return f"names changed: has {sorted(present)}, wants {sorted(wanted)}"
    now = now or _now()
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if start > now or end - now < datetime.timedelta(days=renew_within_days):
        return (
            f"valid {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC: "
            f"not valid yet, or expires within {renew_within_days} days"
        )
    return None


def _flag(value: object) -> bool:
    """A JSON flag: true or false, or Ansible's rendering of one ("True", "false")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise PkiError(f"a flag must be true or false, not {value!r}")


def host_certificate_answer(request: dict[str, Any]) -> dict[str, str | None]:
    """What ``host-cert`` prints for one request (see the module's docstring)."""
    try:
        ca = Issued(cert_pem=str(request["ca_cert"]), key_pem=str(request["ca_key"]))
        names = HostNames(
            common_name=str(request["common_name"]),
            dns_names=tuple(str(name) for name in request.get("dns_names", [])),
            ip_addresses=tuple(str(ip) for ip in request.get("ip_addresses", [])),
        )
        days = int(request.get("days", HOST_DAYS))
        renew_within = int(request.get("renew_within_days", RENEW_WITHIN_DAYS))
    except (KeyError, TypeError, ValueError) as error:
        raise PkiError(f"a host-cert request needs ca_cert, ca_key, common_name: {error}") from None
    forced = _flag(request.get("force", False))
    current = request.get("current_cert") or None
    reason = renewal_reason(current, ca.cert_pem, names, renew_within)
    if reason is None and not request.get("key_present", True):
        reason = "the certificate's key is missing on the host"
    if reason is None and forced:
        reason = FORCED_REASON
    if reason is None:
        return {"reason": None}
    issued = issue_host_certificate(ca, names, days)
    return {"reason": reason, "cert": issued.cert_pem, "key": issued.key_pem}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["host-cert"]:
        print("usage: python -m lendstream.pki host-cert < request.json", file=sys.stderr)
        return 2
    try:
        request = json.load(sys.stdin)
        if not isinstance(request, dict):
            raise PkiError("the request must be a JSON object")
        print(json.dumps(host_certificate_answer(request)))
    except (PkiError, ValueError) as error:
        print(f"pki: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
