"""The applicant API of the pipeline (playbooks/pipeline.yml): running and enabled as its own
user, listening on the node's address, healthy (it reaches MariaDB), serving applicants; its
database password 0600 and its own."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from infra_cluster import (
    TLS_CA_FILE,
    assert_service,
    groups,
    http_json,
    in_group,
    pipeline_tls,
    pipeline_url,
)

# Every node: the unit runs on the applicant_api hosts and nowhere else; the rest only on them.
testinfra_hosts = ["ansible://all"]
pytestmark = pytest.mark.in_groups("applicant_api")

API_PORT = 8081
TOKEN = "/etc/lendstream/applicant-api/token"  # with lendstream_tls
# Runs on the node: GET the URL (HTTPS, verified against the CA file) without a token; its status.
_STATUS_WITHOUT_TOKEN = """
import ssl, sys, urllib.error, urllib.request
context = ssl.create_default_context(cafile=sys.argv[2])
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10, context=context) as answer:
        print(answer.status)
except urllib.error.HTTPError as error:
    print(error.code)
"""
MYSQL_PORT = 3306
SERVICE_USER = "lendstream-api"
SECRET = "/etc/lendstream/applicant-api/mysql-password"


@pytest.mark.in_groups("all")
def test_applicant_api_service(host: Any) -> None:
    if in_group(host, "applicant_api"):
        assert_service(host, "lendstream-applicant-api", (API_PORT,))
    else:
        assert not host.service("lendstream-applicant-api").is_running


def test_runs_as_its_own_user(host: Any) -> None:
    workers = host.process.filter(user=SERVICE_USER)
    assert workers, f"no process of {SERVICE_USER}"
    assert any("gunicorn" in process.args for process in workers)


def test_health_answers(host: Any) -> None:
    assert http_json(host, pipeline_url(host, API_PORT, "/healthz")) == {"status": "ok"}


def test_serves_applicants_page(host: Any) -> None:
    headers = {}
    if pipeline_tls(host):  # lendstream_tls: HTTPS and the bearer token
        with host.sudo():
            token = host.file(TOKEN).content_string.strip()
        headers["Authorization"] = f"Bearer {token}"
    page = http_json(host, pipeline_url(host, API_PORT, "/v1/applicants?limit=5"), headers)
    assert set(page) == {"applicants", "next_after"}
    assert len(page["applicants"]) <= 5
    if page["applicants"]:
        assert page["next_after"] == page["applicants"][-1]["id"]


def test_asks_the_token_exactly_with_lendstream_tls(host: Any) -> None:
    """With lendstream_tls: HTTPS, and no page without the token (401). Without: plain HTTP and no
    token asked, as documented (docs/security.md)."""
    url = pipeline_url(host, API_PORT, "/v1/applicants?limit=1")
    arguments = shlex.join([url, TLS_CA_FILE])
    result = host.run(f"python3 -c {shlex.quote(_STATUS_WITHOUT_TOKEN)} {arguments}")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == ("401" if pipeline_tls(host) else "200")


def test_password_file_is_the_services_alone(host: Any) -> None:
    with host.sudo():
        secret = host.file(SECRET)
        assert secret.exists
        assert secret.user == SERVICE_USER
        assert secret.mode == 0o600, oct(secret.mode)


def test_node_reaches_mysql(host: Any) -> None:
    for mysql in groups(host)["mysql"]:
        assert host.addr(mysql).port(MYSQL_PORT).is_reachable, mysql
