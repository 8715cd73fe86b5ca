"""The risk_service role's health gate (tasks/health.yml), run by Ansible against the risk
service's app on loopback with a real model: a good model passes; a model that loads and cannot
predict (lendstream.chaos.bad_model, what the risk-bad-model-push fault serves) fails it with the
version and the service's answer, although its /healthz is fine. The probe applicant it sends is
checked against the pipeline's own cleaning. The rollback around it (tasks/model.yml) needs
systemd: tests/cluster/test_cluster_deploy.py runs it on the ci layout."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import Counter
from render_playbook import ANSIBLE_DIR, run_render_playbook
from werkzeug.serving import make_server

from lendstream.chaos import bad_model
from lendstream.model import artifact
from lendstream.model.synthetic import generate
from lendstream.pipeline.rules import clean
from lendstream.services.risk_service import metrics
from lendstream.services.risk_service.app import create_app
from lendstream.services.risk_service.settings import RiskSettings, ThresholdOverrides
from lendstream.services.risk_service.validation import parse_request

RENDER_PLAYBOOK = Path(__file__).with_name("render-risk-gate.yml")
PROBE_FILE = ANSIBLE_DIR / "roles" / "risk_service" / "files" / "probe-applicant.json"
TOKEN = "gate-test-token-not-a-secret"
PLAYBOOK_TIMEOUT_S = 180


def test_the_probe_applicant_is_testinfras_sample_as_the_pipeline_cleans_it() -> None:
    """The synthetic applicant the testinfra suite scores (seed 11), through the pipeline's
    rules, with its own member id: it stays what the score bolts send as CleanApplicant moves."""
    probe = json.loads(PROBE_FILE.read_text())
    sample = clean(next(iter(generate(1, seed=11)))).as_dict()
    assert probe == {**sample, "member_id": "rollout-probe"}
    applicants, single = parse_request({"applicants": [probe]})  # no 422: nothing refused
    assert applicants == [probe]
    assert not single


@contextmanager
def serving(model_dir: Path) -> Iterator[int]:
    """The risk service's app (in process) on a free loopback port, serving ``model_dir``."""
    settings = RiskSettings(
        model_dir=model_dir,
        tokens=(TOKEN,),
        thresholds=ThresholdOverrides(review_at=None, decline_at=None),
    )
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=10)


def gate(port: int, version: str, *, succeed: bool) -> str:
    """The gate's run against the service on ``port``: its output (the playbook's exit status
    checked against ``succeed``)."""
    extra = {"risk_service_port": port, "risk_service_token": TOKEN, "wanted_version": version}
    return run_render_playbook(
        RENDER_PLAYBOOK,
        extra,
        timeout_s=PLAYBOOK_TIMEOUT_S,
        inventory="localhost,",
        succeed=succeed,
    )


def counted(counter: Counter, **labels: str) -> float:
    """The counter's total over its series with these labels, in this process (the app's
    counters are module globals)."""
    return sum(
        sample.value
        for family in counter.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and labels.items() <= sample.labels.items()
    )


def probes(status: int) -> float:
    return counted(metrics.PROBES, status=str(status))


def scoring_requests() -> float:
    """Every /v1/score request counted for the pipeline, whatever its status."""
    return counted(metrics.REQUESTS, route="/v1/score")


def test_a_good_model_passes_the_gate_counted_as_a_probe_only(model_dir: Path) -> None:
    version = artifact.load(model_dir).version
    pipeline_before, probes_before = scoring_requests(), probes(200)
    with serving(model_dir) as port:
        output = gate(port, version, succeed=True)
    assert re.search(r"^ok: \[localhost\]", output, re.M)
    assert probes(200) == probes_before + 1
    assert scoring_requests() == pipeline_before  # the pipeline's figures are untouched


def test_a_model_that_cannot_predict_fails_the_gate_naming_it_and_the_answer(
    model_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "model"
    root.mkdir()
    shutil.copytree(model_dir, root / model_dir.name)
    (root / artifact.CURRENT_LINK).symlink_to(model_dir.name)
    bad_version = bad_model.push(root, "gate-test")["bad"]
    failed_before = probes(500)
    with serving(root / artifact.CURRENT_LINK) as port:
        output = gate(port, bad_version, succeed=False)
    assert "Wait until /healthz answers 200 with the deployed model version" in output
    assert (
        f"the risk service on localhost serves model {bad_version} and cannot score the probe "
        'applicant: HTTP 500: {"error":"internal error (ValueError); see the service log"}'
    ) in output
    assert probes(500) == failed_before + 1  # a 500 is not tried again
    assert TOKEN not in output
