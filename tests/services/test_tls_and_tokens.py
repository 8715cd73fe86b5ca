"""HTTPS and bearer tokens as the cluster runs them: the applicant API and the risk service under
real gunicorn with a host certificate from a test CA (lendstream.pki), reached by the real
clients (the producer's API client, the score bolt's RiskServiceClient) verifying that CA and the
host name — and refused with a wrong CA, a wrong host name, plain HTTP or no token."""

from __future__ import annotations

import os
import secrets
import signal
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from local_processes import clean_environment, free_port, tail
from service_databases import ApplicantDatabase
from service_processes import running

from lendstream import pki
from lendstream.attacks import clients
from lendstream.model.data import lending_club_raw_records
from lendstream.pipeline.rules import InvalidApplicant, clean
from lendstream.pipeline.scoring import RiskServiceClient, RiskServiceSettings, ScoringError
from lendstream.services.producer.api_client import ApiUnavailableError, ApplicantApiClient

START_TIMEOUT_S = 60.0
# The certificate names only this host name: https://127.0.0.1 is the wrong name for it.
HOST = "localhost"


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    other_ca_file: Path
    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class Served:
    port: int
    token: str
    log: Path

    def url(self, host: str = HOST, scheme: str = "https") -> str:
        return f"{scheme}://{host}:{self.port}"


@pytest.fixture(scope="module")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = pki.new_ca("lendstream services test CA")
    host = pki.issue_host_certificate(ca, pki.HostNames(HOST, (HOST,)))
    files = Pki(
        ca_file=directory / "ca.crt",
        other_ca_file=directory / "other-ca.crt",
        cert_file=directory / "host.crt",
        key_file=directory / "host.key",
    )
    files.ca_file.write_text(ca.cert_pem)
    files.other_ca_file.write_text(pki.new_ca("some other deployment").cert_pem)
    files.cert_file.write_text(host.cert_pem)
    files.key_file.write_text(host.key_pem)
    files.key_file.chmod(0o600)
    return files


def _token_file(directory: Path) -> tuple[str, Path]:
    token = secrets.token_urlsafe(24)
    path = directory / "token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token, path


def _wait_for_https(served: Served, ca_file: Path, process: Any) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}: {tail(served.log)}")
        try:
            requests.get(f"{served.url()}/healthz", timeout=2, verify=str(ca_file))
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    raise AssertionError(f"no HTTPS answer in {START_TIMEOUT_S:.0f} s: {tail(served.log)}")


@pytest.fixture(scope="module")
def tls_api(
    applicant_database: ApplicantDatabase, test_pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("tls-api")
    token, token_file = _token_file(work)
    port = free_port()
    env = {
        **applicant_database.api_environment(port),
        "LENDSTREAM_API_TOKEN_FILE": str(token_file),
        "LENDSTREAM_API_TLS_CERT_FILE": str(test_pki.cert_file),
        "LENDSTREAM_API_TLS_KEY_FILE": str(test_pki.key_file),
    }
    served = Served(port=port, token=token, log=work / "gunicorn.log")
    with running("lendstream.services.applicant_api", env, served.log, None) as process:
        _wait_for_https(served, test_pki.ca_file, process)
        yield served


@pytest.fixture(scope="module")
def tls_risk(
    model_dir: Path, test_pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("tls-risk")
    token, token_file = _token_file(work)
    port = free_port()
    env = clean_environment(
        {
            "LENDSTREAM_MODEL_DIR": str(model_dir),
            "LENDSTREAM_RISK_TOKEN_FILE": str(token_file),
            "LENDSTREAM_RISK_BIND": f"127.0.0.1:{port}",
            "LENDSTREAM_RISK_WORKERS": "1",
            "LENDSTREAM_RISK_TLS_CERT_FILE": str(test_pki.cert_file),
            "LENDSTREAM_RISK_TLS_KEY_FILE": str(test_pki.key_file),
        }
    )
    served = Served(port=port, token=token, log=work / "gunicorn.log")
    with running("lendstream.services.risk_service", env, served.log, None) as process:
        _wait_for_https(served, test_pki.ca_file, process)
        yield served


@pytest.fixture(scope="module")
def clean_applicants() -> list[dict[str, Any]]:
    applicants = []
    for raw in lending_club_raw_records()[:50]:
        try:
            applicants.append(clean(raw).as_dict())
        except InvalidApplicant:
            continue
    return applicants


def test_the_producer_client_reads_applicants_over_https_with_the_token(
    tls_api: Served, test_pki: Pki
) -> None:
    client = ApplicantApiClient(tls_api.url(), 10.0, tls_api.token, str(test_pki.ca_file))
    try:
        page = client.page(after=0, limit=5)
    finally:
        client.close()
    assert len(page.entries) == 5
    assert page.next_after == page.entries[-1]["id"]


def test_the_api_refuses_every_applicant_route_without_the_token(
    tls_api: Served, test_pki: Pki
) -> None:
    verify = str(test_pki.ca_file)
    for path in ("/v1/applicants", "/v1/applicants?after=0&limit=5", "/v1/applicants/1"):
        for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": "x"}):
            answer = requests.get(tls_api.url() + path, headers=headers, timeout=10, verify=verify)
            assert answer.status_code == 401, (path, headers)
            assert "applicants" not in answer.json()
            assert "member_id" not in answer.text
    health = requests.get(f"{tls_api.url()}/healthz", timeout=10, verify=verify)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    with pytest.raises(ApiUnavailableError, match="HTTP 401"):
        ApplicantApiClient(tls_api.url(), 10.0, "not-the-token", verify).page(after=0, limit=5)


def test_the_api_client_refuses_a_wrong_ca_a_wrong_host_name_and_plain_http(
    tls_api: Served, test_pki: Pki
) -> None:
    wrong_ca = ApplicantApiClient(tls_api.url(), 10.0, tls_api.token, str(test_pki.other_ca_file))
    with pytest.raises(ApiUnavailableError, match=r"SSLError.*certificate verify failed"):
        wrong_ca.page(after=0, limit=5)
    wrong_name = ApplicantApiClient(
        tls_api.url(host="127.0.0.1"), 10.0, tls_api.token, str(test_pki.ca_file)
    )
    with pytest.raises(ApiUnavailableError, match=r"SSLError.*(mismatch|match)"):
        wrong_name.page(after=0, limit=5)
    plain = ApplicantApiClient(tls_api.url(scheme="http"), 10.0, tls_api.token, None)
    with pytest.raises(ApiUnavailableError):
        plain.page(after=0, limit=5)


def test_the_clients_own_ca_wins_over_requests_ca_bundle(
    tls_api: Served, test_pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests lets REQUESTS_CA_BUNDLE override a session's verify; the clients pass their CA on
    # every request, so a stray bundle neither breaks nor widens their trust.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(test_pki.other_ca_file))
    client = ApplicantApiClient(tls_api.url(), 10.0, tls_api.token, str(test_pki.ca_file))
    assert len(client.page(after=0, limit=2).entries) == 2
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(test_pki.ca_file))
    other = ApplicantApiClient(tls_api.url(), 10.0, tls_api.token, str(test_pki.other_ca_file))
    with pytest.raises(ApiUnavailableError, match="certificate verify failed"):
        other.page(after=0, limit=2)


def _risk_client(url: str, token: str, ca_file: Path | None) -> RiskServiceClient:
    settings = RiskServiceSettings(
        base_url=url,
        token=token,
        timeout_s=10.0,
        max_attempts=1,
        ca_file=str(ca_file) if ca_file else None,
    )
    return RiskServiceClient(settings)


def test_the_score_client_scores_over_https_verifying_the_deployment_ca(
    tls_risk: Served, test_pki: Pki, clean_applicants: list[dict[str, Any]]
) -> None:
    client = _risk_client(tls_risk.url(), tls_risk.token, test_pki.ca_file)
    scores = client.score_dicts(clean_applicants)
    assert [score.member_id for score in scores] == [a["member_id"] for a in clean_applicants]
    assert {score.decision for score in scores} <= {"approve", "review", "decline"}


def test_the_score_client_refuses_a_wrong_ca_a_wrong_host_name_and_plain_http(
    tls_risk: Served, test_pki: Pki, clean_applicants: list[dict[str, Any]]
) -> None:
    batch = clean_applicants[:3]
    wrong_ca = _risk_client(tls_risk.url(), tls_risk.token, test_pki.other_ca_file)
    with pytest.raises(ScoringError, match=r"SSLError.*certificate verify failed"):
        wrong_ca.score_dicts(batch)
    wrong_name = _risk_client(tls_risk.url(host="127.0.0.1"), tls_risk.token, test_pki.ca_file)
    with pytest.raises(ScoringError, match=r"SSLError.*(mismatch|match)"):
        wrong_name.score_dicts(batch)
    plain = _risk_client(tls_risk.url(scheme="http"), tls_risk.token, None)
    with pytest.raises(ScoringError, match="ConnectionError"):
        plain.score_dicts(batch)
    no_token = requests.post(
        f"{tls_risk.url()}/v1/score",
        json={"applicants": batch},
        timeout=10,
        verify=str(test_pki.ca_file),
    )
    assert no_token.status_code == 401


def test_the_attack_suites_http_attacks_tell_denied_from_served_and_refused_plain_http(
    tls_risk: Served, test_pki: Pki
) -> None:
    # lendstream.attacks' verdicts rest on these outcomes; the suite runs them on the cluster.
    url_parts = (["localhost"], tls_risk.port)
    https = {"scheme": "https", "ca_file": str(test_pki.ca_file)}
    no_token = clients.risk_service_score(*url_parts, https)
    wrong_token = clients.risk_service_score(*url_parts, {**https, "token": clients.WRONG_TOKEN})
    with_token = clients.risk_service_score(*url_parts, {**https, "token": tls_risk.token})
    plain = clients.plain_http(*url_parts, {})
    assert no_token[0] == clients.Outcome.DENIED, no_token
    assert wrong_token[0] == clients.Outcome.DENIED, wrong_token
    assert with_token[0] == clients.Outcome.SUCCEEDED, with_token
    assert plain[0] == clients.Outcome.PLAINTEXT_REFUSED, plain


def _served_serial(port: int) -> int:
    """The serial of the certificate a new connection to the port gets."""
    return pki.load_certificate(ssl.get_server_certificate((HOST, port), timeout=10)).serial_number


@dataclass
class Poller:
    """The producer's API client polling in a thread, as the producer does, counting failures."""

    client: ApplicantApiClient
    polls: int = 0
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.client.page(after=0, limit=5)
            except ApiUnavailableError as error:
                self.failures.append(str(error))
            self.polls += 1


@contextmanager
def polling(client: ApplicantApiClient) -> Iterator[Poller]:
    poller = Poller(client)
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        yield poller
    finally:
        poller.stop.set()
        thread.join(timeout=30)
        client.close()


def _install(directory: Path, issued: pki.Issued) -> None:
    """As role pki installs a renewed pair: both written beside, then renamed into place."""
    (directory / "node.key.new").write_text(issued.key_pem)
    (directory / "node.crt.new").write_text(issued.cert_pem)
    os.replace(directory / "node.key.new", directory / "node.key")
    os.replace(directory / "node.crt.new", directory / "node.crt")


def test_a_renewed_certificate_reaches_new_connections_and_the_reload_refuses_no_poll(
    applicant_database: ApplicantDatabase, tmp_path: Path
) -> None:
    """As the certificate rotation renews it (playbooks/rotate-certificates.yml): role pki moves
    a new key and certificate of the same CA into place, the applicant_api role reloads gunicorn
    (HUP). gunicorn builds each new connection's TLS context from the files, so new connections
    get the new certificate at once; the reload ends the connections opened before. The
    producer's client, polling on its keep-alive session all along, is never refused."""
    ca = pki.new_ca("rotation test CA")
    names = pki.HostNames(HOST, (HOST,))
    (tmp_path / "ca.crt").write_text(ca.cert_pem)
    _install(tmp_path, pki.issue_host_certificate(ca, names))
    token, token_file = _token_file(tmp_path)
    port = free_port()
    env = {
        **applicant_database.api_environment(port),
        "LENDSTREAM_API_TOKEN_FILE": str(token_file),
        "LENDSTREAM_API_TLS_CERT_FILE": str(tmp_path / "node.crt"),
        "LENDSTREAM_API_TLS_KEY_FILE": str(tmp_path / "node.key"),
    }
    served = Served(port=port, token=token, log=tmp_path / "gunicorn.log")
    with running("lendstream.services.applicant_api", env, served.log, None) as process:
        _wait_for_https(served, tmp_path / "ca.crt", process)
        client = ApplicantApiClient(served.url(), 10.0, token, str(tmp_path / "ca.crt"))
        with polling(client) as poller:
            time.sleep(1)
            renewed = pki.issue_host_certificate(ca, names)
            _install(tmp_path, renewed)
            new_serial = pki.load_certificate(renewed.cert_pem).serial_number
            assert _served_serial(port) == new_serial
            polls_before_reload = poller.polls
            os.kill(process.pid, signal.SIGHUP)
            deadline = time.monotonic() + START_TIMEOUT_S
            while "Handling signal: hup" not in served.log.read_text():
                assert time.monotonic() < deadline, tail(served.log)
                time.sleep(0.2)
            time.sleep(3)  # the old workers retire, the new ones serve
        assert poller.failures == []
        assert poller.polls > polls_before_reload > 0
        assert _served_serial(port) == new_serial
