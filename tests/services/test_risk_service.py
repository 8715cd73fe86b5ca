"""The risk service over real HTTP under gunicorn, with a model trained by lendstream.model."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from service_risk import RiskService, start_risk_service

from lendstream.model import artifact
from lendstream.model.data import lending_club_raw_records
from lendstream.pipeline.rules import InvalidApplicant, clean

SCORE = "/v1/score"


@pytest.fixture(scope="module")
def clean_applicants() -> list[dict[str, Any]]:
    applicants = []
    for raw in lending_club_raw_records()[:1000]:
        try:
            applicants.append(clean(raw).as_dict())
        except InvalidApplicant:
            continue
    return applicants


def _post(service: RiskService, body: Any, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token or service.token}"}
    return requests.post(f"{service.url}{SCORE}", json=body, headers=headers, timeout=30)


def _metric(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_without_a_valid_token_is_401(
    risk_service: RiskService, clean_applicants: list[dict[str, Any]]
) -> None:
    body = {"applicant": clean_applicants[0]}
    missing = requests.post(f"{risk_service.url}{SCORE}", json=body, timeout=10)
    wrong = _post(risk_service, body, token="not-the-token")
    basic = requests.post(
        f"{risk_service.url}{SCORE}", json=body, timeout=10, auth=("user", risk_service.token)
    )
    for answer in (missing, wrong, basic):
        assert answer.status_code == 401
        assert "Bearer" in answer.json()["error"]


def test_single_and_batch_agree_with_the_model(
    risk_service: RiskService, model_dir: Path, clean_applicants: list[dict[str, Any]]
) -> None:
    model = artifact.load(model_dir)
    batch = clean_applicants[:100]
    expected = model.predict_default_probability(batch)

    answer = _post(risk_service, {"applicants": batch})
    assert answer.status_code == 200
    body = answer.json()
    assert body["model_version"] == model.version
    results = body["results"]
    assert [result["member_id"] for result in results] == [a["member_id"] for a in batch]
    for result, probability in zip(results, expected, strict=True):
        assert result["probability_of_default"] == pytest.approx(float(probability), rel=1e-9)
        assert result["decision"] in {"approve", "review", "decline"}

    single = _post(risk_service, {"applicant": batch[7]})
    assert single.status_code == 200
    assert single.json()["result"] == results[7]
    assert single.json()["model_version"] == model.version


def test_decisions_follow_the_served_thresholds(
    risk_service: RiskService, clean_applicants: list[dict[str, Any]]
) -> None:
    health = requests.get(f"{risk_service.url}/healthz", timeout=10).json()
    review_at = health["thresholds"]["review_at"]
    decline_at = health["thresholds"]["decline_at"]
    results = _post(risk_service, {"applicants": clean_applicants}).json()["results"]
    for result in results:
        probability = result["probability_of_default"]
        expected = (
            "decline"
            if probability >= decline_at
            else "review"
            if probability >= review_at
            else "approve"
        )
        assert result["decision"] == expected
    assert {result["decision"] for result in results} == {"approve", "review", "decline"}


def test_thresholds_are_configurable(
    model_dir: Path, tmp_path: Path, clean_applicants: list[dict[str, Any]]
) -> None:
    service, context = start_risk_service(
        model_dir,
        tmp_path,
        {"LENDSTREAM_RISK_REVIEW_AT": "0.0", "LENDSTREAM_RISK_DECLINE_AT": "0.999999"},
    )
    with context:
        health = requests.get(f"{service.url}/healthz", timeout=10).json()
        assert health["thresholds"] == {"review_at": 0.0, "decline_at": 0.999999}
        results = _post(service, {"applicants": clean_applicants[:200]}).json()["results"]
    assert {result["decision"] for result in results} == {"review"}


def test_bad_thresholds_stop_the_service_at_start(model_dir: Path, tmp_path: Path) -> None:
    _, context = start_risk_service(
        model_dir,
        tmp_path,
        {"LENDSTREAM_RISK_REVIEW_AT": "0.5", "LENDSTREAM_RISK_DECLINE_AT": "0.2"},
    )
    with pytest.raises(AssertionError, match="review_at <= decline_at"), context:
        pass


def test_422_lists_each_bad_field(
    risk_service: RiskService, clean_applicants: list[dict[str, Any]]
) -> None:
    bad = dict(clean_applicants[1])
    bad["int_rate"] = " 12.39%"
    bad["term_months"] = 36.5
    bad["grade"] = None
    bad["annual_inc"] = True
    bad["nickname"] = "x"
    del bad["dti"]
    answer = _post(risk_service, {"applicants": [clean_applicants[0], bad, "not an object"]})
    assert answer.status_code == 422
    problems = {(p["index"], p["field"]) for p in answer.json()["problems"]}
    assert problems == {
        (1, "int_rate"),
        (1, "term_months"),
        (1, "grade"),
        (1, "annual_inc"),
        (1, "nickname"),
        (1, "dti"),
        (2, "(applicant)"),
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([1, 2], "(body)"),
        ({}, "applicants"),
        ({"applicants": {"member_id": "x"}}, "applicants"),
        ({"applicants": [], "applicant": {}}, "applicant"),
        ({"applicants": [{}] * 1001}, "applicants"),
    ],
)
def test_422_for_a_malformed_request(risk_service: RiskService, body: Any, field: str) -> None:
    answer = _post(risk_service, body)
    assert answer.status_code == 422
    assert field in {problem["field"] for problem in answer.json()["problems"]}


def test_body_that_is_not_json_is_400(risk_service: RiskService) -> None:
    answer = requests.post(
        f"{risk_service.url}{SCORE}",
        data="{not json",
        headers={
            "Authorization": f"Bearer {risk_service.token}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert answer.status_code == 400
    assert "JSON" in answer.json()["error"]


def test_health_names_the_model(risk_service: RiskService, model_dir: Path) -> None:
    answer = requests.get(f"{risk_service.url}/healthz", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["model_version"] == artifact.load(model_dir).version


def test_metrics_count_requests_and_decisions_across_workers(
    risk_service: RiskService, clean_applicants: list[dict[str, Any]]
) -> None:
    before = requests.get(f"{risk_service.url}/metrics", timeout=10).text
    requests_before = _metric(
        before, "lendstream_risk_requests_total", 'route="/v1/score",status="200"'
    )
    scored_before = sum(
        _metric(before, "lendstream_risk_scored_applicants_total", f'decision="{decision}"')
        for decision in ("approve", "review", "decline")
    )
    probes_before = _metric(before, "lendstream_risk_probe_requests_total", 'status="200"')
    rounds = 20  # two workers: with several requests both serve some
    for _ in range(rounds):
        assert _post(risk_service, {"applicants": clean_applicants[:50]}).status_code == 200
    # A deployment's probe (the rollout's gate) is counted apart, in no figure above.
    probe = requests.post(
        f"{risk_service.url}{SCORE}",
        json={"applicants": clean_applicants[:1]},
        headers={"Authorization": f"Bearer {risk_service.token}", "X-Lendstream-Probe": "rollout"},
        timeout=30,
    )
    assert probe.status_code == 200
    after = requests.get(f"{risk_service.url}/metrics", timeout=10).text
    assert _metric(after, "lendstream_risk_probe_requests_total", 'status="200"') == (
        probes_before + 1
    )
    assert (
        _metric(after, "lendstream_risk_requests_total", 'route="/v1/score",status="200"')
        == requests_before + rounds
    )
    scored_after = sum(
        _metric(after, "lendstream_risk_scored_applicants_total", f'decision="{decision}"')
        for decision in ("approve", "review", "decline")
    )
    assert scored_after == scored_before + rounds * 50
    assert "lendstream_risk_request_duration_seconds_bucket" in after


def test_benchmark_batch_of_100_against_single_requests(
    risk_service: RiskService, clean_applicants: list[dict[str, Any]]
) -> None:
    """Prints applicants/s for batches of 100 and for one applicant per request (no assertion
    on time: the figures go to the report)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {risk_service.token}"
    url = f"{risk_service.url}{SCORE}"
    applicants = clean_applicants[:1000]
    started = time.perf_counter()
    for start in range(0, len(applicants), 100):
        answer = session.post(url, json={"applicants": applicants[start : start + 100]}, timeout=30)
        assert answer.status_code == 200
    batch_rate = len(applicants) / (time.perf_counter() - started)
    singles = applicants[:300]
    started = time.perf_counter()
    for applicant in singles:
        assert session.post(url, json={"applicant": applicant}, timeout=30).status_code == 200
    single_rate = len(singles) / (time.perf_counter() - started)
    with ThreadPoolExecutor(4) as pool:
        started = time.perf_counter()
        codes = list(pool.map(lambda a: _post(risk_service, {"applicant": a}).status_code, singles))
        parallel_rate = len(singles) / (time.perf_counter() - started)
    assert set(codes) == {200}
    print(
        f"risk service: batch of 100 {batch_rate:.0f} applicants/s, single "
        f"{single_rate:.0f} applicants/s (one client), single {parallel_rate:.0f} applicants/s "
        f"(4 clients; 2 workers)"
    )


def test_during_a_rotation_the_new_and_the_old_token_are_both_accepted(
    model_dir: Path, tmp_path: Path, clean_applicants: list[dict[str, Any]]
) -> None:
    """A token file of two lines (the current token, then the one being retired) accepts both
    and nothing else; /healthz names the worker that answered (the graceful reload waits for one
    of the workers it started)."""
    service, context = start_risk_service(model_dir, tmp_path)
    (tmp_path / "risk-token").write_text(f"{service.token}\nthe-retiring-token\n")
    with context:
        body = {"applicant": clean_applicants[0]}
        assert _post(service, body).status_code == 200
        assert _post(service, body, token="the-retiring-token").status_code == 200
        assert _post(service, body, token="the-retiring").status_code == 401
        assert _post(service, body, token="another-token").status_code == 401
        health = requests.get(f"{service.url}/healthz", timeout=10).json()
        assert isinstance(health["worker"], int)
