"""The risk-service client against a real HTTP server on loopback speaking the contract."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from applicants import raw_applicant
from scripted_risk_service import TOKEN, ScriptedRiskService, contract_answer

from lendstream.pipeline.rules import clean
from lendstream.pipeline.scoring import (
    RiskServiceClient,
    RiskServiceSettings,
    ScoringError,
    ScoringRejectedError,
)


def client_for(service: ScriptedRiskService, **settings: Any) -> RiskServiceClient:
    options = {"first_backoff_s": 0.01, "timeout_s": 5.0, **settings}
    return RiskServiceClient(RiskServiceSettings(service.url, TOKEN, **options))


def applicants(count: int) -> list[Any]:
    return [clean(raw_applicant(f"M{i}", int_rate=f" {5 + i % 20}.5%")) for i in range(count)]


def test_scores_in_order_with_the_bearer_token(risk_service: ScriptedRiskService) -> None:
    batch = applicants(7)
    scores = client_for(risk_service).score(batch)
    assert [s.member_id for s in scores] == [a.member_id for a in batch]
    assert [s.probability_of_default for s in scores] == [a.int_rate / 100 for a in batch]
    assert {s.model_version for s in scores} == {"test-1"}
    assert risk_service.authorizations == [f"Bearer {TOKEN}"]
    assert risk_service.requests[0]["applicants"][0] == batch[0].as_dict()


def test_splits_large_batches_and_keeps_the_connection_alive(
    risk_service: ScriptedRiskService,
) -> None:
    scores = client_for(risk_service, max_batch=10).score(applicants(25))
    assert len(scores) == 25
    assert [len(r["applicants"]) for r in risk_service.requests] == [10, 10, 5]
    assert len(risk_service.connections) == 1


def test_retries_server_errors_then_succeeds(risk_service: ScriptedRiskService) -> None:
    risk_service.script = [lambda body: (503, {"error": "busy"}), contract_answer]
    scores = client_for(risk_service).score(applicants(3))
    assert len(scores) == 3
    assert len(risk_service.requests) == 2


def test_a_batch_that_keeps_failing_raises_after_bounded_attempts(
    risk_service: ScriptedRiskService,
) -> None:
    risk_service.script = [lambda body: (500, {"error": "broken"})]
    with pytest.raises(ScoringError, match="after 3 attempts; last: HTTP 500"):
        client_for(risk_service, max_attempts=3).score(applicants(2))
    assert len(risk_service.requests) == 3


def test_an_unreachable_service_raises_scoring_error() -> None:
    settings = RiskServiceSettings(
        "http://127.0.0.1:9", TOKEN, max_attempts=2, first_backoff_s=0.01, timeout_s=1.0
    )
    with pytest.raises(ScoringError, match="ConnectionError"):
        RiskServiceClient(settings).score(applicants(1))


def test_refusals_are_not_retried(risk_service: ScriptedRiskService) -> None:
    problems = {"error": "invalid", "problems": [{"index": 0, "field": "x", "problem": "y"}]}
    risk_service.script = [lambda body: (422, problems)]
    with pytest.raises(ScoringRejectedError, match="HTTP 422"):
        client_for(risk_service).score(applicants(1))
    assert len(risk_service.requests) == 1


def test_a_refusal_names_the_applicants_of_the_whole_list_it_blames(
    risk_service: ScriptedRiskService,
) -> None:
    problems = {
        "error": "invalid",
        "problems": [
            {"index": 1, "field": "int_rate", "problem": "too high"},
            {"index": 1, "field": "dti", "problem": "too low"},
        ],
    }
    risk_service.script = [contract_answer, lambda body: (422, problems)]
    with pytest.raises(ScoringRejectedError) as refusal:
        client_for(risk_service, max_batch=3).score(applicants(5))  # second request: 3..4
    assert refusal.value.status == 422
    assert refusal.value.named == {4: "HTTP 422: int_rate: too high; dti: too low"}


@pytest.mark.parametrize("status", [401, 403])
def test_a_wrong_token_is_a_systemic_failure_not_a_refusal(
    risk_service: ScriptedRiskService, status: int
) -> None:
    risk_service.script = [lambda body: (status, {"error": "no"})]
    client = RiskServiceClient(
        RiskServiceSettings(risk_service.url, TOKEN, max_attempts=2, first_backoff_s=0.01)
    )
    with pytest.raises(ScoringError, match=f"after 2 attempts; last: HTTP {status}") as caught:
        client.score(applicants(1))
    assert not isinstance(caught.value, ScoringRejectedError)
    assert len(risk_service.requests) == 2


def test_after_a_401_the_rotated_token_file_is_read_again(
    risk_service: ScriptedRiskService, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("the-old-token\n")
    settings = RiskServiceSettings.from_token_file(
        risk_service.url, token_file, max_attempts=3, first_backoff_s=0.01
    )
    client = RiskServiceClient(settings)
    unchanged = token_file.stat()
    token_file.write_text(TOKEN + "\n")  # rotated after the client started, with a write
    os.utime(token_file, ns=(unchanged.st_atime_ns, unchanged.st_mtime_ns))  # stat cannot see
    assert len(client.score(applicants(2))) == 2
    assert risk_service.authorizations == ["Bearer the-old-token", f"Bearer {TOKEN}"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"results": []}, "lacks model_version"),
        ({"model_version": "v", "results": []}, "answered 0 results for 2"),
        (
            {
                "model_version": "v",
                "results": [
                    {"member_id": "M1", "probability_of_default": 0.1, "decision": "approve"},
                    {"member_id": "M0", "probability_of_default": 0.1, "decision": "approve"},
                ],
            },
            "out of order",
        ),
        (
            {
                "model_version": "v",
                "results": [
                    {"member_id": "M0", "probability_of_default": 0.1, "decision": "maybe"},
                    {"member_id": "M1", "probability_of_default": 0.1, "decision": "approve"},
                ],
            },
            "unknown decision",
        ),
    ],
)
def test_answers_that_break_the_contract_raise(
    risk_service: ScriptedRiskService, answer: dict[str, Any], message: str
) -> None:
    risk_service.script = [lambda body: (200, answer)]
    with pytest.raises(ScoringError, match=message):
        client_for(risk_service, max_attempts=1).score(applicants(2))


def test_a_token_file_written_anew_is_followed_before_the_next_request(
    risk_service: ScriptedRiskService, tmp_path: Path
) -> None:
    """A rotation writes the new token while the service still accepts the old one: the client
    switches at its next request, without waiting for a refusal."""
    risk_service.accepted_tokens.add("rotated-token")
    token_file = tmp_path / "risk-service-token"
    token_file.write_text(TOKEN + "\n")
    settings = RiskServiceSettings.from_token_file(risk_service.url, token_file)
    client = RiskServiceClient(settings)
    client.score(applicants(2))
    replacement = tmp_path / "risk-service-token.new"
    replacement.write_text("rotated-token\n")
    replacement.replace(token_file)  # as Ansible's copy does: a new file renamed into place
    client.score(applicants(2))
    assert risk_service.authorizations == [f"Bearer {TOKEN}", "Bearer rotated-token"]
