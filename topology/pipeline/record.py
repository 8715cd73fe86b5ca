"""The applicant record: raw as LendingClub publishes it, and clean as the pipeline uses it.

The applicant API serves, the producer publishes and the topology consumes the *raw* record: a
JSON object of LendingClub's strings (``term`` ``" 36 months"``, ``int_rate`` ``" 12.39%"``,
``emp_length`` ``"10+ years"``, blanks as ``""`` or null). Unknown fields are carried along and
ignored. :func:`lendstream.pipeline.rules.clean` turns a raw record into a :class:`CleanApplicant`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RawApplicant = dict[str, Any]

GRADES = ("A", "B", "C", "D", "E", "F", "G")

# The credit bureau's history of an applicant: counts, balances and a utilisation, each an
# optional number (blank means unknown), in the order the raw record holds them.
CREDIT_HISTORY: tuple[str, ...] = (
    "delinq_2yrs",
    "inq_last_6mths",
    "revol_util",
    "acc_now_delinq",
    "open_il_6m",
    "open_il_12m",
    "open_il_24m",
    "total_bal_il",
    "all_util",
    "inq_fi",
    "inq_last_12m",
    "delinq_amnt",
    "num_il_tl",
)

# Raw fields in the order the applicant API's table stores them. ``member_id`` is the key.
RAW_FIELDS: tuple[str, ...] = (
    "member_id",
    "loan_amnt",
    "funded_amnt",
    "term",
    "int_rate",
    "grade",
    "sub_grade",
    "emp_length",
    "home_ownership",
    "annual_inc",
    "verification_status",
    "addr_state",
    "dti",
    *CREDIT_HISTORY,
    "total_il_high_credit_limit",
    "bc_open_to_buy",
    "bc_util",
    "issue_d",
)

# Optional numeric fields: blank means unknown (None); the model imputes them.
OPTIONAL_NUMBERS: tuple[str, ...] = (
    "loan_amnt",
    "dti",
    *CREDIT_HISTORY,
)

# Numeric fields whose blank means zero: the original system's rule (which never fired there,
# because it compared strings by identity).
BLANK_MEANS_ZERO: tuple[str, ...] = (
    "bc_open_to_buy",
    "bc_util",
    "total_il_high_credit_limit",
)

# Categorical fields passed to the model as strings; blank means unknown (None).
OPTIONAL_CATEGORIES: tuple[str, ...] = ("home_ownership", "verification_status", "addr_state")


@dataclass(frozen=True, slots=True)
class CleanApplicant:
    """An applicant whose fields are typed and whose formats are normalised."""

    member_id: str
    funded_amnt: float
    term_months: int
    int_rate: float
    grade: str
    sub_grade: str | None
    annual_inc: float
    emp_length_years: int | None
    home_ownership: str | None
    verification_status: str | None
    addr_state: str | None
    loan_amnt: float | None
    dti: float | None
    delinq_2yrs: float | None
    inq_last_6mths: float | None
    revol_util: float | None
    acc_now_delinq: float | None
    open_il_6m: float | None
    open_il_12m: float | None
    open_il_24m: float | None
    total_bal_il: float | None
    all_util: float | None
    inq_fi: float | None
    inq_last_12m: float | None
    delinq_amnt: float | None
    num_il_tl: float | None
    total_il_high_credit_limit: float
    bc_open_to_buy: float
    bc_util: float
    fund_rate: float | None

    def as_dict(self) -> dict[str, Any]:
        """The clean record as a JSON-ready dict: what the risk service scores and HBase keeps.

        A field loop rather than ``dataclasses.asdict``, whose deep copy costs 5x more; the fields
        are flat scalars, so the result is the same.
        """
        return {name: getattr(self, name) for name in CLEAN_FIELDS}


CLEAN_FIELDS: tuple[str, ...] = tuple(CleanApplicant.__dataclass_fields__)
