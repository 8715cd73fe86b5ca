"""The deployment CA and host certificates: real keys and certificates, checked by OpenSSL through
Python's ssl module and by the ``host-cert`` command the pki role runs."""

from __future__ import annotations

import datetime
import json
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from lendstream import pki

NAMES = pki.HostNames("w1", ("w1", "w1.lendstream.internal"), ("192.168.56.21",))


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.new_ca("lendstream test CA")


def test_a_host_certificate_loads_in_openssl_and_names_its_host(
    ca: pki.Issued, tmp_path: Path
) -> None:
    host = pki.issue_host_certificate(ca, NAMES)
    (tmp_path / "ca.crt").write_text(ca.cert_pem)
    (tmp_path / "host.crt").write_text(host.cert_pem)
    (tmp_path / "host.key").write_text(host.key_pem)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "host.crt", tmp_path / "host.key")  # key matches the cert
    cert = x509.load_pem_x509_certificate(host.cert_pem.encode())
    cert.verify_directly_issued_by(pki.load_certificate(ca.cert_pem))
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["w1", "w1.lendstream.internal"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["192.168.56.21"]
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca is False


def test_a_good_certificate_is_kept(ca: pki.Issued) -> None:
    host = pki.issue_host_certificate(ca, NAMES)
    assert pki.renewal_reason(host.cert_pem, ca.cert_pem, NAMES, renew_within_days=30) is None


def test_missing_foreign_renamed_or_expiring_certificates_are_renewed(ca: pki.Issued) -> None:
    host = pki.issue_host_certificate(ca, NAMES, days=60)
    other_ca = pki.new_ca("another deployment")
    foreign = pki.issue_host_certificate(other_ca, NAMES)
    renamed = pki.HostNames("w1", ("w1", "w1.lendstream.internal"), ("192.168.56.22",))
    assert pki.renewal_reason(None, ca.cert_pem, NAMES) == "no certificate yet"
    assert "not a PEM certificate" in str(pki.renewal_reason("garbage", ca.cert_pem, NAMES))
    assert "not signed by this deployment's CA" in str(
        pki.renewal_reason(foreign.cert_pem, ca.cert_pem, NAMES)
    )
    assert "names changed" in str(pki.renewal_reason(host.cert_pem, ca.cert_pem, renamed))
    assert pki.renewal_reason(host.cert_pem, ca.cert_pem, NAMES, renew_within_days=59) is None
    assert "within 61 days" in str(
        pki.renewal_reason(host.cert_pem, ca.cert_pem, NAMES, renew_within_days=61)
    )
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=45)
    assert "within 30 days" in str(pki.renewal_reason(host.cert_pem, ca.cert_pem, NAMES, now=later))


def test_a_host_certificate_never_outlives_its_ca() -> None:
    short_ca = pki.new_ca("short-lived", days=10)
    host = pki.issue_host_certificate(short_ca, NAMES, days=397)
    ca_end = pki.load_certificate(short_ca.cert_pem).not_valid_after_utc
    assert pki.load_certificate(host.cert_pem).not_valid_after_utc == ca_end


def test_a_mismatched_ca_key_is_refused(ca: pki.Issued) -> None:
    other = pki.new_ca("another deployment")
    with pytest.raises(pki.PkiError, match="does not belong"):
        pki.issue_host_certificate(pki.Issued(ca.cert_pem, other.key_pem), NAMES)
    with pytest.raises(pki.PkiError, match="must name a host"):
        pki.issue_host_certificate(ca, pki.HostNames("w1", ()))


def _host_cert(request: dict[str, object]) -> dict[str, str | None]:
    result = subprocess.run(
        [sys.executable, "-m", "lendstream.pki", "host-cert"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer: dict[str, str | None] = json.loads(result.stdout)
    return answer


def _request(ca: pki.Issued, **fields: object) -> dict[str, object]:
    """A host-cert request for w1 (NAMES) signed by ``ca``, with ``fields`` on top."""
    return {
        "ca_cert": ca.cert_pem,
        "ca_key": ca.key_pem,
        "common_name": "w1",
        "dns_names": list(NAMES.dns_names),
        "ip_addresses": list(NAMES.ip_addresses),
        **fields,
    }


def test_the_role_command_issues_once_then_keeps_the_certificate(ca: pki.Issued) -> None:
    request = _request(ca, current_cert="", key_present=False, renew_within_days=30)
    first = _host_cert(request)
    assert first["reason"] == "no certificate yet"
    assert first["cert"]
    assert "PRIVATE KEY" in str(first["key"])
    kept = _host_cert({**request, "current_cert": first["cert"], "key_present": True})
    assert kept == {"reason": None}
    lost_key = _host_cert({**request, "current_cert": first["cert"], "key_present": False})
    assert lost_key["reason"] == "the certificate's key is missing on the host"


def test_the_role_command_says_what_is_wrong_with_a_bad_request() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lendstream.pki", "host-cert"],
        input=json.dumps({"common_name": "w1"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "needs ca_cert, ca_key, common_name" in result.stderr


def test_a_forced_request_renews_a_good_certificate_from_the_same_ca(ca: pki.Issued) -> None:
    """pki_force_renew (the rotation playbook): a new key and serial, the same CA and names."""
    good = pki.issue_host_certificate(ca, NAMES)
    request = _request(ca, current_cert=good.cert_pem, key_present=True, renew_within_days=30)
    # Ansible renders the role's flag as a bool or as its text: both are understood.
    assert _host_cert({**request, "force": False}) == {"reason": None}
    assert _host_cert({**request, "force": "False"}) == {"reason": None}
    forced = _host_cert({**request, "force": "True"})
    assert forced["reason"] == pki.FORCED_REASON
    old, new = pki.load_certificate(good.cert_pem), pki.load_certificate(str(forced["cert"]))
    assert new.serial_number != old.serial_number
    assert new.public_key() != old.public_key()
    new.verify_directly_issued_by(pki.load_certificate(ca.cert_pem))
    assert pki.renewal_reason(str(forced["cert"]), ca.cert_pem, NAMES) is None
    # A certificate that must be renewed anyway says why, forced or not.
    expiring = pki.issue_host_certificate(ca, NAMES, days=10)
    answer = _host_cert({**request, "current_cert": expiring.cert_pem, "force": True})
    assert "expires within 30 days" in str(answer["reason"])


def test_a_force_flag_that_is_no_boolean_is_refused(ca: pki.Issued) -> None:
    request = {"ca_cert": ca.cert_pem, "ca_key": ca.key_pem, "common_name": "w1"}
    with pytest.raises(pki.PkiError, match=r"^a flag must be true or false"):
        pki.host_certificate_answer({**request, "dns_names": ["w1"], "force": "yes please"})
