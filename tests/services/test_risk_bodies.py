"""Any body a client can send gets a 4xx with a JSON error from the risk service, never a 500.

Against the real app under gunicorn (2 workers), with the session's model: explicit hostile
bodies, then hypothesis-generated ones (any JSON value, applicants with any values in the real
fields, raw bytes). Every answer must be below 500, carry JSON, and be a 200 only when it scored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_risk import RiskService

from lendstream.pipeline.record import CLEAN_FIELDS
from lendstream.services.risk_service.app import MAX_BODY_BYTES

SCORE = "/v1/score"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GOOD: dict[str, Any] = {
    **dict.fromkeys(CLEAN_FIELDS),
    "member_id": "fuzz-1",
    "funded_amnt": 10_000.0,
    "term_months": 36,
    "int_rate": 12.5,
    "grade": "B",
    "annual_inc": 65_000.0,
    "total_il_high_credit_limit": 0.0,
    "bc_open_to_buy": 0.0,
    "bc_util": 0.0,
}


@pytest.fixture(scope="module")
def session(risk_service: RiskService) -> Iterator[requests.Session]:
    with requests.Session() as client:
        client.headers["Authorization"] = f"Bearer {risk_service.token}"
        yield client


def post(
    service: RiskService,
    session: requests.Session,
    data: bytes | str,
    content_type: str | None = "application/json",
) -> requests.Response:
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else data
    return session.post(f"{service.url}{SCORE}", data=body, headers=headers, timeout=60)


def assert_client_error_or_scored(answer: requests.Response) -> dict[str, Any]:
    assert answer.status_code < 500, answer.text[:300]
    payload = answer.json()
    if answer.status_code == 200:
        results = payload.get("results") or [payload["result"]]
        assert all(0.0 <= r["probability_of_default"] <= 1.0 for r in results), payload
    else:
        assert 400 <= answer.status_code < 500
        assert isinstance(payload["error"], str)
        assert payload["error"]
    return dict(payload)


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ("[" * 100_000 + "]" * 100_000, 400, "nested too deeply"),
        ('{"applicants": ' + "[" * 5_000 + "]" * 5_000 + "}", 400, "nested too deeply"),
        ('{"applicant": {"member_id": ' + "[" * 800 + "]" * 800 + "}}", 422, "member_id"),
        ('{"applicant": {"dti": NaN}}', 400, "NaN is not a JSON number"),
        ('{"applicant": {"dti": Infinity}}', 400, "Infinity is not a JSON number"),
        ('{"applicant": {"dti": -Infinity}}', 400, "-Infinity is not a JSON number"),
        ('{"applicant": {"dti": ' + "9" * 5_000 + "}}", 400, "must be JSON"),
        (b'{"applicant": "\xff\xfe"}', 400, "not UTF-8"),
        ("", 400, "must be JSON"),
        ("{not json", 400, "must be JSON"),
        ("null", 422, "must be a JSON object"),
        ("[1, 2]", 422, "must be a JSON object"),
        ('"a string"', 422, "must be a JSON object"),
        ("3.5", 422, "must be a JSON object"),
        ('{"applicants": {"a": 1}}', 422, "problem"),
        ('{"applicants": [1, null, "x"]}', 422, "problem"),
        ('{"applicant": {}, "applicants": []}', 422, "problem"),
    ],
)
def test_hostile_bodies_get_a_clear_4xx(
    risk_service: RiskService, session: requests.Session, body: str | bytes, status: int, says: str
) -> None:
    answer = post(risk_service, session, body)
    assert answer.status_code == status, answer.text[:300]
    assert says in answer.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("annual_inc", 1e308),
        ("funded_amnt", 1e300),
        ("dti", -1e308),
        ("term_months", 1e300),
        ("int_rate", 5e-324),
        ("annual_inc", 10**300),
        ("member_id", "\ud800"),
        ("member_id", "x" * 100_000),
        ("grade", "not a grade"),
        ("addr_state", "\u0000"),
    ],
)
def test_extreme_values_of_the_right_type_are_scored_or_refused_never_a_500(
    risk_service: RiskService, session: requests.Session, field: str, value: Any
) -> None:
    applicant = {**GOOD, field: value}
    text = json.dumps({"applicant": applicant})
    assert_client_error_or_scored(post(risk_service, session, text))


def test_non_finite_numbers_written_as_overflowing_literals_are_422(
    risk_service: RiskService, session: requests.Session
) -> None:
    text = json.dumps({"applicant": GOOD}).replace("65000.0", "1e999")
    answer = post(risk_service, session, text)
    assert answer.status_code == 422
    assert "finite" in answer.text


def test_a_body_over_the_limit_is_413(risk_service: RiskService) -> None:
    with requests.Session() as own:  # the server closes this connection after its answer
        own.headers["Authorization"] = f"Bearer {risk_service.token}"
        answer = post(risk_service, own, b" " * (MAX_BODY_BYTES + 1))
    assert answer.status_code == 413
    assert answer.json()["error"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_declared_json_is_415(
    risk_service: RiskService, session: requests.Session, content_type: str | None
) -> None:
    answer = post(risk_service, session, json.dumps({"applicant": GOOD}), content_type)
    assert answer.status_code == 415
    assert "application/json" in answer.json()["error"]


def test_the_well_formed_applicant_of_these_tests_is_scored(
    risk_service: RiskService, session: requests.Session
) -> None:
    answer = post(risk_service, session, json.dumps({"applicant": GOOD}))
    assert answer.status_code == 200, answer.text
    assert assert_client_error_or_scored(answer)["result"]["member_id"] == "fuzz-1"


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**80), max_value=10**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@FUZZ
@given(body=json_values)
def test_any_json_value_as_body(
    risk_service: RiskService, session: requests.Session, body: Any
) -> None:
    assert_client_error_or_scored(post(risk_service, session, json.dumps(body)))


@FUZZ
@given(
    changes=st.dictionaries(
        st.sampled_from([*CLEAN_FIELDS, "unknown_field"]), json_values, max_size=6
    ),
    dropped=st.sets(st.sampled_from(CLEAN_FIELDS), max_size=3),
    batch=st.booleans(),
)
def test_any_values_in_the_applicant_fields(
    risk_service: RiskService,
    session: requests.Session,
    changes: dict[str, Any],
    dropped: set[str],
    batch: bool,
) -> None:
    applicant = {k: v for k, v in {**GOOD, **changes}.items() if k not in dropped}
    body = {"applicants": [GOOD, applicant]} if batch else {"applicant": applicant}
    payload = assert_client_error_or_scored(post(risk_service, session, json.dumps(body)))
    if "problems" in payload:
        indices = {problem["index"] for problem in payload["problems"]}
        assert indices <= {None, 1 if batch else 0}, payload  # only the fuzzed one is blamed


@FUZZ
@given(
    value=st.floats(allow_nan=False, allow_infinity=False).filter(math.isfinite),
    field=st.sampled_from(
        ["funded_amnt", "int_rate", "annual_inc", "dti", "revol_util", "bc_util", "loan_amnt"]
    ),
)
def test_any_finite_number_in_a_numeric_field(
    risk_service: RiskService, session: requests.Session, value: float, field: str
) -> None:
    body = json.dumps({"applicant": {**GOOD, field: value}})
    assert_client_error_or_scored(post(risk_service, session, body))


@FUZZ
@given(data=st.binary(max_size=300))
def test_any_bytes_as_body(
    risk_service: RiskService, session: requests.Session, data: bytes
) -> None:
    assert_client_error_or_scored(post(risk_service, session, data))
