"""Raw applicants, as the source API serves them, for the unit tests (topology, reconcile)."""

from __future__ import annotations

from typing import Any


def raw_applicant(member_id: str = "LC-1", **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "member_id": member_id,
        "loan_amnt": "16000",
        "funded_amnt": "16000",
        "term": " 36 months",
        "int_rate": " 13.99%",
        "grade": "C",
        "sub_grade": "C4",
        "emp_length": "5 years",
        "home_ownership": "RENT",
        "annual_inc": "78000.0",
        "verification_status": "Not Verified",
        "addr_state": "CT",
        "dti": "18.2",
        "revol_util": "67.4%",
    }
    record.update(overrides)
    return record
