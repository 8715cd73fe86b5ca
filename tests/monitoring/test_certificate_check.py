"""The node's certificate check (role node_exporter's lendstream-certificate-check, bash and
openssl), run for real on certificates made here by lendstream.pki: every certificate of every
listed file gets its notAfter, a file that cannot be read or parsed gets file_ok 0 and counts as
an error, and the metrics file is replaced atomically, readable by the node exporter, and parses
as the textfile collector reads it (promtool's linter agrees)."""

from __future__ import annotations

import datetime
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lendstream import pki

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
CHECK = REPOSITORY_ROOT / "ansible/roles/node_exporter/files/lendstream-certificate-check"
CHECK_TIMEOUT_S = 60
EXPIRY = "lendstream_certificate_expiry_timestamp_seconds"


def _names(name: str) -> pki.HostNames:
    return pki.HostNames(common_name=name, dns_names=(name,))


def _not_after(pem: str) -> int:
    return int(pki.load_certificate(pem).not_valid_after_utc.timestamp())


def run_check(lists_dir: Path, output: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(CHECK), str(lists_dir), str(output)],
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.new_ca("lendstream test CA")


@pytest.fixture
def node(tmp_path: Path, ca: pki.Issued) -> dict[str, Path]:
    """A node's files as the roles lay them out, and the lists the roles write."""
    year = pki.issue_host_certificate(ca, _names("m1.lendstream.internal"), days=365)
    soon = pki.issue_host_certificate(ca, _names("m2.lendstream.internal"), days=5)
    tls = tmp_path / "tls"
    tls.mkdir()
    files = {
        "ca": tls / "ca.crt",
        "year": tls / "node.crt",
        "soon": tls / "soon.crt",
        # Kafka's PEM keystore: the key, then the certificate.
        "keystore": tls / "keystore.pem",
        # A bundle: the node's certificate and the CA's.
        "bundle": tls / "chain.pem",
        "garbled": tls / "garbled.crt",
        "empty": tls / "empty.crt",
        "missing": tls / "missing.crt",
    }
    files["ca"].write_text(ca.cert_pem)
    files["year"].write_text(year.cert_pem)
    files["soon"].write_text(soon.cert_pem)
    files["keystore"].write_text(soon.key_pem + soon.cert_pem)
    files["bundle"].write_text(year.cert_pem + ca.cert_pem)
    body = year.cert_pem.splitlines()
    files["garbled"].write_text("\n".join([body[0], "bm90IGEgY2VydGlmaWNhdGU=", body[-1]]) + "\n")
    files["empty"].write_text("not PEM at all\n")
    lists = tmp_path / "certificates.d"
    lists.mkdir()
    (lists / "pki.list").write_text(f"# role pki\n{files['ca']}\n{files['year']}\n\n")
    (lists / "kafka.list").write_text(f"{files['keystore']}\n")
    others = [files[name] for name in ("soon", "bundle", "garbled", "empty", "missing")]
    (lists / "other.list").write_text("".join(f"  {path}\n" for path in others))
    (lists / "ignored.txt").write_text(f"{tls / 'not-listed.crt'}\n")
    textfile = tmp_path / "node-exporter"
    textfile.mkdir()
    return {**files, "lists": lists, "output": textfile / "certificates.prom"}


def test_every_listed_certificate_gets_its_expiry_and_every_bad_file_an_error(
    node: dict[str, Path],
) -> None:
    result = run_check(node["lists"], node["output"])
    assert result.returncode == 0, result.stderr
    year = _not_after(node["year"].read_text())
    soon = _not_after(node["soon"].read_text())
    ca = _not_after(node["ca"].read_text())
    now = datetime.datetime.now(datetime.UTC).timestamp()
    assert 364 * 86400 < year - now <= 365 * 86400
    assert 4 * 86400 < soon - now <= 5 * 86400

    def expiry(name: str, subject: str, value: int) -> str:
        return f'{EXPIRY}{{path="{node[name]}",subject="{subject}"}} {value}'

    def file_ok(name: str, value: int) -> str:
        return f'lendstream_certificate_file_ok{{path="{node[name]}"}} {value}'

    lines = [line for line in node["output"].read_text().splitlines() if not line.startswith("#")]
    # Sorted by path: tls/ca.crt, chain.pem, empty.crt, garbled.crt, keystore.pem, missing.crt,
    # node.crt, soon.crt.
    assert lines == [
        expiry("ca", "CN=lendstream test CA", ca),
        expiry("bundle", "CN=m1.lendstream.internal", year),
        expiry("bundle", "CN=lendstream test CA", ca),
        expiry("keystore", "CN=m2.lendstream.internal", soon),
        expiry("year", "CN=m1.lendstream.internal", year),
        expiry("soon", "CN=m2.lendstream.internal", soon),
        file_ok("ca", 1),
        file_ok("bundle", 1),
        file_ok("empty", 0),
        file_ok("garbled", 0),
        file_ok("keystore", 1),
        file_ok("missing", 0),
        file_ok("year", 1),
        file_ok("soon", 1),
        "lendstream_certificate_check_errors 3",
    ]
    # Each failure is said, with its file, on stderr (the unit's journal).
    assert f"{node['garbled']}: certificate 1 does not parse" in result.stderr
    assert f"{node['empty']}: no certificate in it" in result.stderr
    assert f"{node['missing']}: missing" in result.stderr


def test_the_metrics_file_is_replaced_whole_and_parses(node: dict[str, Path]) -> None:
    node["output"].write_text("stale 1\n")
    assert run_check(node["lists"], node["output"]).returncode == 0
    text = node["output"].read_text()
    assert "stale" not in text
    assert sorted(path.name for path in node["output"].parent.iterdir()) == ["certificates.prom"]
    # The node exporter (user prometheus, not in the writers' group) must read it.
    assert stat.S_IMODE(node["output"].stat().st_mode) == 0o644
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert {family.type for family in families.values()} == {"gauge"}
    assert len(families[EXPIRY].samples) == 6
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing (bin/bootstrap installs Debian's prometheus)"
    lint = subprocess.run(
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT_S,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_a_fixed_file_clears_its_error_on_the_next_run(node: dict[str, Path]) -> None:
    run_check(node["lists"], node["output"])
    assert "lendstream_certificate_check_errors 3" in node["output"].read_text()
    for name in ("garbled", "empty", "missing"):
        node[name].write_text(node["year"].read_text())
    assert run_check(node["lists"], node["output"]).returncode == 0
    text = node["output"].read_text()
    assert "lendstream_certificate_check_errors 0" in text
    assert " 0\n" not in text.replace("lendstream_certificate_check_errors 0\n", "")


def test_without_a_list_there_is_nothing_to_check(tmp_path: Path) -> None:
    output = tmp_path / "certificates.prom"
    result = run_check(tmp_path / "no-lists", output)
    assert result.returncode == 0, result.stderr
    lines = [line for line in output.read_text().splitlines() if not line.startswith("#")]
    assert lines == ["lendstream_certificate_check_errors 0"]


def test_an_output_directory_it_cannot_write_fails_the_check(
    node: dict[str, Path], tmp_path: Path
) -> None:
    result = run_check(node["lists"], tmp_path / "absent" / "certificates.prom")
    assert result.returncode != 0
    assert not (tmp_path / "absent").exists()
