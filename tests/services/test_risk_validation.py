"""Pure logic of the risk service: request validation and decision thresholds."""

from __future__ import annotations

from typing import Any

import pytest

from lendstream.pipeline.record import CLEAN_FIELDS
from lendstream.pipeline.rules import clean
from lendstream.services.risk_service.decisions import ThresholdError, Thresholds
from lendstream.services.risk_service.settings import ThresholdOverrides
from lendstream.services.risk_service.validation import (
    MAX_BATCH,
    InvalidRequestError,
    check,
    parse_request,
)

RAW = {
    "member_id": "M-1",
    "funded_amnt": "10000.0",
    "loan_amnt": "10000.0",
    "term": " 36 months",
    "int_rate": " 12.39%",
    "grade": "B",
    "sub_grade": "B3",
    "annual_inc": "78000.0",
    "emp_length": "10+ years",
}


def _applicant() -> dict[str, Any]:
    return clean(RAW).as_dict()


def _fields(problems: Any) -> set[str]:
    return {problem.field for problem in problems}


def test_a_clean_applicant_has_no_problem() -> None:
    assert check(0, _applicant()) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("member_id", None),
        ("member_id", ""),
        ("member_id", 12),
        ("funded_amnt", None),
        ("funded_amnt", "10000"),
        ("funded_amnt", True),
        ("funded_amnt", float("nan")),
        ("funded_amnt", float("inf")),
        ("term_months", 36.5),
        ("term_months", "36"),
        ("grade", 3),
        ("sub_grade", 3),
        ("dti", "12"),
        ("dti", [1]),
        ("emp_length_years", 2.5),
        ("bc_util", None),
    ],
)
def test_each_wrong_value_is_named(field: str, value: Any) -> None:
    applicant = _applicant()
    applicant[field] = value
    problems = check(3, applicant)
    assert _fields(problems) == {field}
    assert problems[0].index == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [("dti", None), ("sub_grade", None), ("term_months", 60.0), ("funded_amnt", 5), ("dti", 7)],
)
def test_values_the_annotation_allows(field: str, value: Any) -> None:
    applicant = _applicant()
    applicant[field] = value
    assert check(0, applicant) == []


def test_missing_and_unknown_fields_are_each_listed() -> None:
    applicant = _applicant()
    del applicant["dti"]
    del applicant["grade"]
    applicant["colour"] = "blue"
    assert _fields(check(0, applicant)) == {"dti", "grade", "colour"}


def test_every_clean_field_is_checked() -> None:
    for field in CLEAN_FIELDS:
        applicant = _applicant()
        del applicant[field]
        assert _fields(check(0, applicant)) == {field}


def test_parse_single_and_batch() -> None:
    applicant = _applicant()
    assert parse_request({"applicant": applicant}) == ([applicant], True)
    assert parse_request({"applicants": [applicant, applicant]}) == ([applicant, applicant], False)
    assert parse_request({"applicants": []}) == ([], False)


def test_parse_lists_problems_of_every_applicant() -> None:
    good, bad = _applicant(), _applicant()
    bad["int_rate"] = "x"
    with pytest.raises(InvalidRequestError) as raised:
        parse_request({"applicants": [bad, good, bad, 7]})
    assert [(p.index, p.field) for p in raised.value.problems] == [
        (0, "int_rate"),
        (2, "int_rate"),
        (3, "(applicant)"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"applicant": {}, "applicants": []},
        {"applicants": "x"},
        {"applicants": [{}] * (MAX_BATCH + 1)},
        {"applicants": [], "extra": 1},
    ],
)
def test_malformed_bodies(body: Any) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        parse_request(body)
    assert raised.value.problems
    assert all(problem.index is None for problem in raised.value.problems)


def test_threshold_bands() -> None:
    thresholds = Thresholds(review_at=0.1, decline_at=0.3)
    assert thresholds.decide(0.0) == "approve"
    assert thresholds.decide(0.0999) == "approve"
    assert thresholds.decide(0.1) == "review"
    assert thresholds.decide(0.2999) == "review"
    assert thresholds.decide(0.3) == "decline"
    assert thresholds.decide(1.0) == "decline"


def test_thresholds_from_environment_override_the_artifact() -> None:
    metadata = {"thresholds": {"review": 0.08, "decline": 0.16}}
    assert Thresholds.resolve(ThresholdOverrides(None, None), metadata) == Thresholds(0.08, 0.16)
    assert Thresholds.resolve(ThresholdOverrides(0.05, None), metadata) == Thresholds(0.05, 0.16)
    assert Thresholds.resolve(ThresholdOverrides(0.2, 0.4), {}) == Thresholds(0.2, 0.4)


@pytest.mark.parametrize(
    ("overrides", "metadata"),
    [
        (ThresholdOverrides(0.5, 0.2), {}),
        (ThresholdOverrides(None, None), {}),
        (ThresholdOverrides(0.2, None), {"thresholds": {"review": 0.1, "decline": 0.15}}),
    ],
)
def test_bad_thresholds_are_refused(overrides: ThresholdOverrides, metadata: Any) -> None:
    with pytest.raises(ThresholdError):
        Thresholds.resolve(overrides, metadata)
