"""The risk service of the pipeline (playbooks/pipeline.yml): running and enabled as its own user,
listening on the node's address, serving the model version `current` points at, refusing
requests without the token and scoring a real applicant with it; the token 0600 and its own."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest
from infra_cluster import TLS_CA_FILE, assert_service, http_json, in_group, pipeline_url

# Every node: the unit runs on the risk_service hosts and nowhere else; the rest only on them.
testinfra_hosts = ["ansible://all"]
pytestmark = pytest.mark.in_groups("risk_service")

RISK_PORT = 8090
SERVICE_USER = "lendstream-risk"
TOKEN = "/etc/lendstream/risk-service/token"
MODEL_ROOT = "/opt/lendstream/model"
VENV_PYTHON = "/opt/lendstream/venv/bin/python"

# Runs on the node with the deployed virtualenv: one synthetic applicant through the pipeline's
# own clean(), scored over HTTP with and without the token; prints both statuses and the answer.
_SCORE_ONE = """
import json, ssl, sys, urllib.error, urllib.request
from lendstream.model.synthetic import generate
from lendstream.pipeline.rules import clean
url, token_file, ca_file = sys.argv[1], sys.argv[2], sys.argv[3]
context = ssl.create_default_context(cafile=ca_file) if url.startswith("https:") else None
applicant = clean(next(iter(generate(1, seed=11)))).as_dict()
body = json.dumps({"applicant": applicant}).encode()
def post(headers):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, None
plain = {"Content-Type": "application/json"}
token = open(token_file).read().strip()
bearer = {**plain, "Authorization": "Bearer " + token}
print(json.dumps({"without": post(plain)[0], "with": post(bearer)}))
"""


@pytest.mark.in_groups("all")
def test_risk_service(host: Any) -> None:
    if in_group(host, "risk_service"):
        assert_service(host, "lendstream-risk-service", (RISK_PORT,))
    else:
        assert not host.service("lendstream-risk-service").is_running


def test_runs_as_its_own_user(host: Any) -> None:
    workers = host.process.filter(user=SERVICE_USER)
    assert workers, f"no process of {SERVICE_USER}"
    assert any("gunicorn" in process.args for process in workers)


def test_serves_the_model_current_points_at(host: Any) -> None:
    version = host.file(f"{MODEL_ROOT}/current").linked_to.rsplit("/", 1)[-1]
    metadata = json.loads(host.file(f"{MODEL_ROOT}/{version}/metadata.json").content_string)
    assert metadata["version"] == version
    health = http_json(host, pipeline_url(host, RISK_PORT, "/healthz"))
    assert health["status"] == "ok"
    assert health["model_version"] == version


def test_model_file_matches_its_recorded_digest(host: Any) -> None:
    current = host.file(f"{MODEL_ROOT}/current").linked_to
    metadata = json.loads(host.file(f"{current}/metadata.json").content_string)
    assert host.file(f"{current}/model.joblib").sha256sum == metadata["model_sha256"]


def test_token_is_the_services_alone(host: Any) -> None:
    with host.sudo():
        token = host.file(TOKEN)
        assert token.exists
        assert token.user == SERVICE_USER
        assert token.mode == 0o600, oct(token.mode)


def test_scores_with_the_token_only(host: Any) -> None:
    url = pipeline_url(host, RISK_PORT, "/v1/score")
    arguments = shlex.join([url, TOKEN, TLS_CA_FILE])
    with host.sudo():
        result = host.run(f"{VENV_PYTHON} -c {shlex.quote(_SCORE_ONE)} {arguments}")
    assert result.rc == 0, result.stderr
    statuses = json.loads(result.stdout)
    assert statuses["without"] == 401
    status, answer = statuses["with"]
    assert status == 200
    assert answer["result"]["decision"] in {"approve", "review", "decline"}
    assert 0.0 <= answer["result"]["probability_of_default"] <= 1.0
