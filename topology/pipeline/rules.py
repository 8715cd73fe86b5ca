"""The pipeline's rules: clean a raw applicant, then decide whether it goes on to scoring.

This is the one home of these rules: the topology's bolts, the baseline loop of the benchmark, the
model's training data and the tests all call these functions.

Fixes over the original system: blanks are recognised by value (not string identity), decimal
incomes such as ``"78000.0"`` are numbers, ``%`` and ``months`` are stripped wherever they occur,
missing fields are reported by name, a funded (and a requested) amount must be positive, and a
record that cannot be cleaned raises :class:`InvalidApplicant` with the reason, for the dead-letter
topic, instead of vanishing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from lendstream.pipeline.record import (
    BLANK_MEANS_ZERO,
    GRADES,
    OPTIONAL_CATEGORIES,
    OPTIONAL_NUMBERS,
    CleanApplicant,
)

MINIMUM_ANNUAL_INCOME = 20_000.0
REJECTED_GRADES = frozenset({"E", "F", "G"})
TERMS_IN_MONTHS = frozenset({36, 60})
MAX_MEMBER_ID_LENGTH = 64

_TERM = re.compile(r"^\s*(\d+)\s*(?:months?)?\s*$", re.IGNORECASE)
_EMP_LENGTH = re.compile(r"^\s*(<\s*1|\d+)\s*\+?\s*(?:years?)?\s*$", re.IGNORECASE)
_SUB_GRADE = re.compile(r"^([A-G])([1-5])$")
_NOT_APPLICABLE = frozenset({"n/a", "na", "none", "null", "nan"})
_BLANK_TEXTS = frozenset({"", *_NOT_APPLICABLE})
PERCENT_FIELDS = frozenset({"int_rate", "revol_util", "bc_util"})


class InvalidApplicant(ValueError):  # noqa: N818 - the name reads as the situation it reports
    """A raw applicant that cannot be cleaned; ``reason`` says which field and why."""

    def __init__(self, reason: str, member_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.member_id = member_id


@dataclass(frozen=True, slots=True)
class Rejection:
    """A clean applicant turned down by a business rule before scoring."""

    rule: str
    detail: str


def clean(raw: Any) -> CleanApplicant:
    """Type and normalise a raw applicant, or raise :class:`InvalidApplicant` saying why."""
    if not isinstance(raw, dict):
        raise InvalidApplicant(f"record is not a JSON object but {type(raw).__name__}")
    member_id = _member_id(raw.get("member_id"))
    try:
        return _clean_fields(raw, member_id)
    except InvalidApplicant as error:
        raise InvalidApplicant(error.reason, member_id) from None


def decide(applicant: CleanApplicant) -> Rejection | None:
    """Apply the business rules; ``None`` means the applicant goes on to scoring."""
    return decide_on(applicant.grade, applicant.annual_inc)


def decide_on(grade: str, annual_inc: float) -> Rejection | None:
    """The business rules, on the two fields of a clean applicant they read (the decide bolt
    reads just these from the clean record's JSON instead of typing all of it)."""
    if grade in REJECTED_GRADES:
        return Rejection("grade", f"grade {grade} is not accepted (E, F and G are not)")
    if annual_inc < MINIMUM_ANNUAL_INCOME:
        return Rejection(
            "low_income",
            f"annual income {annual_inc:.2f} is below {MINIMUM_ANNUAL_INCOME:.0f}",
        )
    return None


def _clean_fields(raw: dict[str, Any], member_id: str) -> CleanApplicant:
    grade, sub_grade = _grades(raw.get("grade"), raw.get("sub_grade"))
    funded_amnt = _positive(_required_number(raw, "funded_amnt"), "funded_amnt")
    loan_amnt = _optional_number(raw, "loan_amnt")
    if loan_amnt is not None:
        _positive(loan_amnt, "loan_amnt")
    optional = {name: _optional_number(raw, name, minimum=0.0) for name in OPTIONAL_NUMBERS}
    optional["loan_amnt"] = loan_amnt
    return CleanApplicant(
        member_id=member_id,
        funded_amnt=funded_amnt,
        term_months=_term(raw.get("term")),
        int_rate=_required_number(raw, "int_rate", minimum=0.0, maximum=100.0),
        grade=grade,
        sub_grade=sub_grade,
        annual_inc=_required_number(raw, "annual_inc", minimum=0.0),
        emp_length_years=_emp_length(raw.get("emp_length")),
        **{name: _optional_category(raw.get(name)) for name in OPTIONAL_CATEGORIES},
        **optional,
        **{name: _blank_means_zero(raw, name) for name in BLANK_MEANS_ZERO},
        fund_rate=funded_amnt / loan_amnt * 100.0 if loan_amnt else None,
    )


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in _BLANK_TEXTS


def _plain_number(value: Any) -> float | None:
    """The common case, cheaply: a string ``float`` reads as a finite number as it stands
    (``"78000.0"``, ``" 60"``). Such a string is never blank, and :func:`_number` would read the
    same number from it; anything else (``"12%"``, ``"1,200"``, blanks, ``"nan"``) gives
    ``None`` and takes the full path."""
    if type(value) is not str:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _member_id(value: Any) -> str:
    if _is_blank(value):
        raise InvalidApplicant("member_id is missing")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidApplicant(f"member_id must be a string or an integer, not {value!r}")
    member_id = str(value).strip()
    if len(member_id) > MAX_MEMBER_ID_LENGTH or not member_id.isprintable():
        raise InvalidApplicant(f"member_id {member_id[:80]!r} is not a printable id of ≤64 chars")
    return member_id


def _number(name: str, value: Any) -> float:
    """Parse LendingClub's numeric strings: ``"78000.0"``, ``" 12.39%"``, ``"1,200"``."""
    if isinstance(value, bool):
        raise InvalidApplicant(f"{name} is not a number: {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            if name not in PERCENT_FIELDS:
                raise InvalidApplicant(f"{name} is not a percentage: {value[:80]!r}")
            text = text.removesuffix("%")
        text = text.replace(",", "").strip()
        try:
            number = float(text)
        except ValueError:
            raise InvalidApplicant(f"{name} is not a number: {value[:80]!r}") from None
    else:
        raise InvalidApplicant(f"{name} is not a number: {value!r}")
    if not math.isfinite(number):
        raise InvalidApplicant(f"{name} is not a finite number: {value!r}")
    return number


def _check_range(name: str, number: float, minimum: float | None, maximum: float | None) -> float:
    if minimum is not None and number < minimum:
        raise InvalidApplicant(f"{name} must be at least {minimum:g}, got {number:g}")
    if maximum is not None and number > maximum:
        raise InvalidApplicant(f"{name} must be at most {maximum:g}, got {number:g}")
    return number


def _positive(number: float, name: str) -> float:
    """An amount of money lent: zero or less is not a loan (the record is malformed)."""
    if number <= 0:
        raise InvalidApplicant(f"{name} must be a positive amount, got {number:g}")
    return number


def _required_number(
    raw: dict[str, Any], name: str, minimum: float | None = None, maximum: float | None = None
) -> float:
    value = raw.get(name)
    number = _plain_number(value)
    if number is None:
        if _is_blank(value):
            raise InvalidApplicant(f"{name} is missing")
        number = _number(name, value)
    return _check_range(name, number, minimum, maximum)


def _optional_number(raw: dict[str, Any], name: str, minimum: float | None = None) -> float | None:
    value = raw.get(name)
    number = _plain_number(value)
    if number is None:
        if _is_blank(value):
            return None
        number = _number(name, value)
    return _check_range(name, number, minimum, None)


def _blank_means_zero(raw: dict[str, Any], name: str) -> float:
    number = _optional_number(raw, name, minimum=0.0)
    return 0.0 if number is None else number


def _optional_category(value: Any) -> str | None:
    if _is_blank(value):
        return None
    return str(value).strip()


def _term(value: Any) -> int:
    if _is_blank(value):
        raise InvalidApplicant("term is missing")
    match = _TERM.match(str(value))
    if match is None or int(match.group(1)) not in TERMS_IN_MONTHS:
        raise InvalidApplicant(f"term must be 36 or 60 months, got {str(value)[:80]!r}")
    return int(match.group(1))


def _emp_length(value: Any) -> int | None:
    """``"< 1 year"`` → 0, ``"10+ years"`` → 10, ``"n/a"`` or blank → unknown."""
    if _is_blank(value):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        years = float(value)
    else:
        match = _EMP_LENGTH.match(str(value))
        if match is None:
            raise InvalidApplicant(f"emp_length is not a length of employment: {str(value)[:80]!r}")
        years = 0.0 if match.group(1).startswith("<") else float(match.group(1))
    if not 0 <= years <= 10:  # LendingClub caps the field at "10+ years"
        raise InvalidApplicant(f"emp_length must be 0 to 10 years, got {value!r}")
    return int(years)


def _grades(grade_value: Any, sub_grade_value: Any) -> tuple[str, str | None]:
    sub_grade = None
    if not _is_blank(sub_grade_value):
        sub_grade = str(sub_grade_value).strip().upper()
        if _SUB_GRADE.match(sub_grade) is None:
            raise InvalidApplicant(f"sub_grade must be A1 to G5, got {str(sub_grade_value)[:80]!r}")
    if _is_blank(grade_value):
        if sub_grade is None:
            raise InvalidApplicant("grade is missing")
        return sub_grade[0], sub_grade
    grade = str(grade_value).strip().upper()
    if grade not in GRADES:
        raise InvalidApplicant(f"grade must be one of A to G, got {str(grade_value)[:80]!r}")
    if sub_grade is not None and sub_grade[0] != grade:
        raise InvalidApplicant(f"sub_grade {sub_grade} does not belong to grade {grade}")
    return grade, sub_grade
