"""Every cleaning and decision rule, and each class of malformed input."""

from __future__ import annotations

from typing import Any

import pytest
from applicants import raw_applicant

from lendstream.pipeline.record import CLEAN_FIELDS
from lendstream.pipeline.rules import InvalidApplicant, Rejection, clean, decide


def raw(**overrides: Any) -> dict[str, Any]:
    """The shared raw applicant with every kind of field a rule reads: a blank, a null, an
    unknown field."""
    return raw_applicant(
        **{
            "member_id": "LC-000001",
            "funded_amnt": "16100",
            "delinq_2yrs": "0",
            "total_il_high_credit_limit": "13193",
            "bc_open_to_buy": "",
            "bc_util": None,
            "issue_d": "Jan-2016",
            "an_unknown_field": "ignored",
            **overrides,
        }
    )


def test_clean_types_and_normalises_raw_lendingclub_formats() -> None:
    applicant = clean(raw())
    assert applicant.member_id == "LC-000001"
    assert applicant.term_months == 36
    assert applicant.int_rate == pytest.approx(13.99)
    assert applicant.annual_inc == pytest.approx(78000.0)
    assert applicant.revol_util == pytest.approx(67.4)
    assert applicant.emp_length_years == 5
    assert applicant.fund_rate == pytest.approx(16100 / 16000 * 100)
    assert set(applicant.as_dict()) == set(CLEAN_FIELDS)


@pytest.mark.parametrize("blank", ["", "   ", None, "n/a", float("nan")])
@pytest.mark.parametrize("field", ["bc_open_to_buy", "bc_util", "total_il_high_credit_limit"])
def test_blank_means_zero_fields_become_zero(field: str, blank: Any) -> None:
    assert getattr(clean(raw(**{field: blank})), field) == 0.0


def test_missing_blank_means_zero_field_becomes_zero() -> None:
    record = raw()
    del record["total_il_high_credit_limit"]
    assert clean(record).total_il_high_credit_limit == 0.0


@pytest.mark.parametrize("blank", ["", None, "  "])
def test_blank_optional_number_is_unknown(blank: Any) -> None:
    assert clean(raw(dti=blank, revol_util=blank)).dti is None


@pytest.mark.parametrize(
    ("term", "months"), [(" 36 months", 36), ("60 months", 60), ("36", 36), (60, 60)]
)
def test_term_accepts_raw_and_plain_forms(term: Any, months: int) -> None:
    assert clean(raw(term=term)).term_months == months


@pytest.mark.parametrize(
    ("emp_length", "years"),
    [("< 1 year", 0), ("1 year", 1), ("10+ years", 10), ("n/a", None), ("", None), (3.0, 3)],
)
def test_emp_length_forms(emp_length: Any, years: int | None) -> None:
    assert clean(raw(emp_length=emp_length)).emp_length_years == years


@pytest.mark.parametrize(
    ("income", "expected"), [("78000.0", 78000.0), ("1,200,000", 1_200_000.0), (52000, 52000.0)]
)
def test_income_accepts_decimal_strings_and_numbers(income: Any, expected: float) -> None:
    assert clean(raw(annual_inc=income)).annual_inc == expected


def test_grade_is_taken_from_sub_grade_when_missing() -> None:
    applicant = clean(raw(grade="", sub_grade="b3"))
    assert (applicant.grade, applicant.sub_grade) == ("B", "B3")


def test_no_loan_amount_means_no_fund_rate() -> None:
    assert clean(raw(loan_amnt="")).fund_rate is None


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("not a dict", "not a JSON object"),
        ([1, 2], "not a JSON object"),
        ({"funded_amnt": "1"}, "member_id is missing"),
        ({"member_id": "  "}, "member_id is missing"),
        ({"member_id": True}, "member_id must be"),
        ({"member_id": "x" * 65}, "member_id"),
    ],
)
def test_record_without_usable_member_id_is_invalid(record: Any, reason: str) -> None:
    with pytest.raises(InvalidApplicant, match=reason):
        clean(record)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"annual_inc": "abc"}, "annual_inc is not a number"),
        ({"annual_inc": ""}, "annual_inc is missing"),
        ({"annual_inc": None}, "annual_inc is missing"),
        ({"annual_inc": "-5"}, "annual_inc must be at least 0"),
        ({"annual_inc": "inf"}, "annual_inc is not a finite number"),
        ({"annual_inc": "5%"}, "annual_inc is not a percentage"),
        ({"annual_inc": True}, "annual_inc is not a number"),
        ({"dti": "x"}, "dti is not a number"),
        ({"funded_amnt": ""}, "funded_amnt is missing"),
        ({"funded_amnt": "0"}, "funded_amnt must be a positive amount, got 0"),
        ({"funded_amnt": "0.00"}, "funded_amnt must be a positive amount, got 0"),
        ({"funded_amnt": "-25"}, "funded_amnt must be a positive amount, got -25"),
        ({"loan_amnt": "0"}, "loan_amnt must be a positive amount, got 0"),
        ({"loan_amnt": "-1,000"}, "loan_amnt must be a positive amount, got -1000"),
        ({"term": " 48 months"}, "term must be 36 or 60 months"),
        ({"term": "soon"}, "term must be 36 or 60 months"),
        ({"term": None}, "term is missing"),
        ({"int_rate": "12.x%"}, "int_rate is not a number"),
        ({"int_rate": "120%"}, "int_rate must be at most 100"),
        ({"grade": "H", "sub_grade": ""}, "grade must be one of A to G"),
        ({"grade": "", "sub_grade": ""}, "grade is missing"),
        ({"grade": "B", "sub_grade": "C1"}, "does not belong to grade B"),
        ({"sub_grade": "C9"}, "sub_grade must be A1 to G5"),
        ({"emp_length": "forever"}, "emp_length is not a length"),
        ({"emp_length": "12 years"}, "emp_length must be 0 to 10"),
        ({"bc_util": "lots"}, "bc_util is not a number"),
        ({"revol_util": {"a": 1}}, "revol_util is not a number"),
    ],
)
def test_malformed_field_is_invalid_with_its_reason(overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidApplicant, match=reason) as caught:
        clean(raw(**overrides))
    assert caught.value.member_id == "LC-000001"


@pytest.mark.parametrize("grade", ["E", "F", "G"])
def test_grades_e_f_g_are_rejected(grade: str) -> None:
    rejection = decide(clean(raw(grade=grade, sub_grade=f"{grade}1")))
    assert isinstance(rejection, Rejection)
    assert rejection.rule == "grade"


@pytest.mark.parametrize("grade", ["A", "B", "C", "D"])
def test_grades_a_to_d_go_on(grade: str) -> None:
    assert decide(clean(raw(grade=grade, sub_grade=f"{grade}2"))) is None


@pytest.mark.parametrize(
    ("income", "rejected"), [("19999.99", True), ("20000", False), ("0", True)]
)
def test_low_income_is_rejected(income: str, rejected: bool) -> None:
    rejection = decide(clean(raw(annual_inc=income)))
    assert (rejection is not None and rejection.rule == "low_income") is rejected


def test_grade_rule_comes_before_income_rule() -> None:
    rejection = decide(clean(raw(grade="G", sub_grade="G1", annual_inc="100")))
    assert rejection is not None
    assert rejection.rule == "grade"
