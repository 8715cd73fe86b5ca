"""Seeded synthetic applicants in LendingClub's raw formats, calibrated to the real rows.

For volume tests: the applicant API's loader, the producer, the topology and the benchmarks.

How a record is made (vectorised with numpy, a chunk at a time):

- the grade is drawn with LendingClub's published shares (A 17.6 %, B 28.5 %, C 29.0 %, D 15.0 %,
  E 7.0 %, F 2.3 %, G 0.7 %), the sub-grade within it with the real rows' shares;
- a real row of that sub-grade is the *template*: term, int_rate, emp_length, verification_status,
  addr_state, revol_util and the credit-history counts are copied from it as raw strings, so their
  joint distribution with the grade is the real one;
- funded_amnt is the template's, jittered (log-normal, 10 %) and rounded to 25;
  annual_inc is log-normal with the real rows' log mean and spread;
- fields the real rows lack are drawn from LendingClub's published shapes: loan_amnt (mostly equal
  to funded_amnt), dti (gamma, mean about 18.7, rare outliers up to 999 and rare blanks),
  bc_open_to_buy and bc_util (blank together for 1 %), home_ownership, issue_d (2016 Q1);
- at ``malformed_rate`` a record is corrupted in one of :data:`MALFORMED_CLASSES`, each a way
  :func:`lendstream.pipeline.rules.clean` rejects.

Member ids are ``SYN-<seed>-<position>``. Chunks are seeded by ``(seed, chunk index)``, so a
shorter run is a prefix of a longer one with the same seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np

from lendstream.model.data import RawRecord, lending_club_raw_records
from lendstream.pipeline.record import CREDIT_HISTORY, GRADES, RAW_FIELDS

CHUNK_SIZE = 8192

# Published LendingClub shares of loans by grade (2014-2018, 1.1 M resolved loans).
GRADE_SHARES: dict[str, float] = {
    "A": 0.176,
    "B": 0.285,
    "C": 0.290,
    "D": 0.150,
    "E": 0.070,
    "F": 0.023,
    "G": 0.007,
}
HOME_OWNERSHIP_SHARES: dict[str, float] = {
    "MORTGAGE": 0.490,
    "RENT": 0.392,
    "OWN": 0.116,
    "ANY": 0.002,
}
ISSUE_MONTHS: tuple[str, ...] = ("Jan-2016", "Feb-2016", "Mar-2016")

TARGET_DTI_MEAN = 18.7
DTI_MAX = 999.0
_DTI_GAMMA_SHAPE = 4.0
_DTI_BODY_MEAN = 18.12  # with the outliers below, the mean comes to about 18.7
_DTI_SHARE_AT_MAX = 0.0005  # LendingClub's 999 sentinel
_DTI_SHARE_HIGH = 0.001  # 60 to 200
_DTI_SHARE_BLANK = 0.001
_BC_SHARE_BLANK = 0.01
_REVOL_UTIL_SHARE_BLANK = 0.0005
_ALL_UTIL_SHARE_BLANK = 0.001
_LOAN_ABOVE_FUNDED_SHARE = 0.03
_FUNDED_JITTER_SIGMA = 0.10
_MIN_AMOUNT, _MAX_AMOUNT, _AMOUNT_STEP = 1000.0, 40000.0, 25.0

# Raw fields copied from the template row, as the real rows' strings.
TEMPLATE_FIELDS: tuple[str, ...] = (
    "term",
    "int_rate",
    "sub_grade",
    "emp_length",
    "verification_status",
    "addr_state",
    *CREDIT_HISTORY,
    "total_il_high_credit_limit",
)

# Each a way a record can be malformed that `clean` rejects; dict-shaped only (a non-object or
# undecodable message is the producer's and the topology's business).
MALFORMED_CLASSES: tuple[str, ...] = (
    "non_numeric_income",
    "bad_term",
    "missing_member_id",
    "garbage_grade",
    "bad_int_rate",
    "negative_amount",
    "bad_emp_length",
)
_GARBAGE: dict[str, tuple[str | None, ...]] = {
    "non_numeric_income": ("seventy thousand", "78k", "USD 78000"),
    "bad_term": (" 48 months", "three years", " 0 months"),
    "missing_member_id": ("", None, "   "),
    "garbage_grade": ("Z", "?", "AA"),
    "bad_int_rate": ("thirteen%", " 250.00%", "-1.5%"),
    "negative_amount": ("-5000.0", "-1.0", "-25.0"),
    "bad_emp_length": ("forever", "12 years", "-1 years"),
}
_GARBAGE_FIELD: dict[str, str] = {
    "non_numeric_income": "annual_inc",
    "bad_term": "term",
    "missing_member_id": "member_id",
    "garbage_grade": "grade",
    "bad_int_rate": "int_rate",
    "negative_amount": "funded_amnt",
    "bad_emp_length": "emp_length",
}


@dataclass(frozen=True, slots=True)
class GeneratedApplicant:
    """A synthetic raw applicant and, when it was corrupted on purpose, how (else ``None``)."""

    record: RawRecord
    malformed: str | None


@dataclass(frozen=True)
class _Templates:
    """The real rows' raw strings by field, and the rows of each sub-grade."""

    columns: dict[str, np.ndarray]
    funded_amnt: np.ndarray
    sub_grades_by_grade: dict[str, np.ndarray]
    sub_grade_shares_by_grade: dict[str, np.ndarray]
    rows_by_sub_grade: dict[str, np.ndarray]
    log_income_mean: float
    log_income_sd: float


@cache
def _templates() -> _Templates:
    records = lending_club_raw_records()
    columns = {
        name: np.array([record[name] for record in records], dtype=object)
        for name in TEMPLATE_FIELDS
    }
    sub_grade = columns["sub_grade"].astype(str)
    names, counts = np.unique(sub_grade, return_counts=True)
    sub_grades_by_grade, shares_by_grade = {}, {}
    for grade in GRADES:
        in_grade = np.char.startswith(names, grade)
        sub_grades_by_grade[grade] = names[in_grade]
        shares_by_grade[grade] = counts[in_grade] / counts[in_grade].sum()
    income = np.array([float(record["annual_inc"] or 0) for record in records])
    log_income = np.log(income[income > 0])
    return _Templates(
        columns=columns,
        funded_amnt=np.array([float(record["funded_amnt"] or 0) for record in records]),
        sub_grades_by_grade=sub_grades_by_grade,
        sub_grade_shares_by_grade=shares_by_grade,
        rows_by_sub_grade={name: np.flatnonzero(sub_grade == name) for name in names},
        log_income_mean=float(log_income.mean()),
        log_income_sd=float(log_income.std()),
    )


def _chunk_rng(seed: int, chunk: int) -> np.random.Generator:
    return np.random.default_rng([seed, chunk])


def _chunk_malformed(rng: np.random.Generator, malformed_rate: float) -> np.ndarray:
    """Which rows of a chunk are malformed: always the chunk generator's first draw."""
    return rng.random(CHUNK_SIZE) < malformed_rate


def malformed_positions(n: int, seed: int, malformed_rate: float) -> np.ndarray:
    """Positions (0-based) of the records ``generate(n, seed, malformed_rate)`` corrupts.

    Cheap: it replays only each chunk's first draw, so end-to-end tests can reconcile counts.
    """
    _check_arguments(n, malformed_rate)
    positions = []
    for chunk, start in enumerate(range(0, n, CHUNK_SIZE)):
        size = min(CHUNK_SIZE, n - start)
        mask = _chunk_malformed(_chunk_rng(seed, chunk), malformed_rate)[:size]
        positions.append(start + np.flatnonzero(mask))
    return np.concatenate(positions) if positions else np.empty(0, dtype=np.int64)


def _check_arguments(n: int, malformed_rate: float) -> None:
    if n < 0:
        raise ValueError(f"n must be at least 0, got {n}")
    if not 0.0 <= malformed_rate <= 1.0:
        raise ValueError(f"malformed_rate must be within 0 and 1, got {malformed_rate}")


def _decimal_strings(values: np.ndarray) -> list[str | None]:
    return [repr(value) for value in values.tolist()]


def _blank_where(strings: list[str | None], blank: np.ndarray) -> list[str | None]:
    for index in np.flatnonzero(blank).tolist():
        strings[index] = ""
    return strings


def _round_to(values: np.ndarray, step: float) -> np.ndarray:
    return np.round(values / step) * step


def _grades(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Grade by the published shares, sub-grade by the real shares within the grade."""
    templates = _templates()
    shares = np.array([GRADE_SHARES[grade] for grade in GRADES])
    grade_index = rng.choice(len(GRADES), size=size, p=shares / shares.sum())
    grades = np.array(GRADES, dtype=object)[grade_index]
    sub_grades = np.empty(size, dtype=object)
    for position, grade in enumerate(GRADES):
        rows = np.flatnonzero(grade_index == position)
        sub_grades[rows] = rng.choice(
            templates.sub_grades_by_grade[grade],
            size=len(rows),
            p=templates.sub_grade_shares_by_grade[grade],
        )
    return grades, sub_grades


def _template_rows(rng: np.random.Generator, sub_grades: np.ndarray) -> np.ndarray:
    """A random real row of each record's sub-grade."""
    rows = np.empty(len(sub_grades), dtype=np.int64)
    for name, candidates in _templates().rows_by_sub_grade.items():
        wanted = np.flatnonzero(sub_grades == name)
        rows[wanted] = rng.choice(candidates, size=len(wanted))
    return rows


def _dti(rng: np.random.Generator) -> np.ndarray:
    """Debt-to-income: a gamma body, LendingClub's rare high values and its 999 sentinel."""
    dti = rng.gamma(_DTI_GAMMA_SHAPE, _DTI_BODY_MEAN / _DTI_GAMMA_SHAPE, CHUNK_SIZE)
    kind = rng.random(CHUNK_SIZE)
    high = (kind >= _DTI_SHARE_AT_MAX) & (kind < _DTI_SHARE_AT_MAX + _DTI_SHARE_HIGH)
    dti[high] = rng.uniform(60.0, 200.0, int(high.sum()))
    dti[kind < _DTI_SHARE_AT_MAX] = DTI_MAX
    return np.round(dti, 2)


def _valid_chunk(rng: np.random.Generator, keep: int) -> dict[str, list[str | None]]:
    """The first ``keep`` of a chunk of valid raw applicants (member ids are the caller's).

    Every draw is of the whole chunk, whatever ``keep`` is, so the random stream, and hence each
    record, does not depend on how many records are asked for.
    """
    templates = _templates()
    grades, sub_grades = _grades(rng, CHUNK_SIZE)
    rows = _template_rows(rng, sub_grades)[:keep]
    columns: dict[str, list[str | None]] = {
        name: templates.columns[name][rows].tolist() for name in TEMPLATE_FIELDS
    }
    columns["grade"] = grades[:keep].tolist()

    jitter = np.exp(rng.normal(0.0, _FUNDED_JITTER_SIGMA, CHUNK_SIZE))[:keep]
    funded = np.clip(
        _round_to(templates.funded_amnt[rows] * jitter, _AMOUNT_STEP), _MIN_AMOUNT, _MAX_AMOUNT
    )
    above = (rng.random(CHUNK_SIZE) < _LOAN_ABOVE_FUNDED_SHARE)[:keep]
    extra = rng.uniform(0.0, 0.3, CHUNK_SIZE)[:keep]
    loan = np.minimum(funded + above * _round_to(funded * extra, _AMOUNT_STEP), _MAX_AMOUNT)
    columns["funded_amnt"] = _decimal_strings(funded)
    columns["loan_amnt"] = _decimal_strings(loan)

    income = rng.lognormal(templates.log_income_mean, templates.log_income_sd, CHUNK_SIZE)
    columns["annual_inc"] = _decimal_strings(_round_to(income[:keep], 100.0))
    dti = _dti(rng)[:keep]
    dti_blank = (rng.random(CHUNK_SIZE) < _DTI_SHARE_BLANK)[:keep]
    columns["dti"] = _blank_where(_decimal_strings(dti), dti_blank)

    bc_blank = (rng.random(CHUNK_SIZE) < _BC_SHARE_BLANK)[:keep]
    bc_open = _round_to(rng.lognormal(8.4, 1.4, CHUNK_SIZE)[:keep], 1.0)
    columns["bc_open_to_buy"] = _blank_where(_decimal_strings(bc_open), bc_blank)
    bc_util_draw = rng.beta(2.2, 1.4, CHUNK_SIZE) * 100.0 + rng.normal(0.0, 3.0, CHUNK_SIZE)
    bc_util = np.round(np.clip(bc_util_draw[:keep], 0.0, 150.0), 1)
    columns["bc_util"] = _blank_where(_decimal_strings(bc_util), bc_blank)

    owners = np.array(list(HOME_OWNERSHIP_SHARES), dtype=object)
    shares = np.array(list(HOME_OWNERSHIP_SHARES.values()))
    owner_index = rng.choice(len(owners), size=CHUNK_SIZE, p=shares / shares.sum())
    columns["home_ownership"] = owners[owner_index[:keep]].tolist()
    month_index = rng.integers(0, len(ISSUE_MONTHS), CHUNK_SIZE)
    columns["issue_d"] = np.array(ISSUE_MONTHS, dtype=object)[month_index[:keep]].tolist()
    for name, share in (
        ("revol_util", _REVOL_UTIL_SHARE_BLANK),
        ("all_util", _ALL_UTIL_SHARE_BLANK),
    ):
        _blank_where(columns[name], (rng.random(CHUNK_SIZE) < share)[:keep])
    return columns


def _corrupt(record: RawRecord, malformed_class: str, variant: int) -> None:
    garbage = _GARBAGE[malformed_class]
    value = garbage[variant % len(garbage)]
    field = _GARBAGE_FIELD[malformed_class]
    if malformed_class == "missing_member_id" and variant % (len(garbage) + 1) == len(garbage):
        del record[field]
    else:
        record[field] = value


def generate_labelled(
    n: int, seed: int, malformed_rate: float = 0.0
) -> Iterator[GeneratedApplicant]:
    """``n`` synthetic raw applicants, each with the malformed class it was given (or ``None``)."""
    _check_arguments(n, malformed_rate)
    for chunk, start in enumerate(range(0, n, CHUNK_SIZE)):
        size = min(CHUNK_SIZE, n - start)
        rng = _chunk_rng(seed, chunk)
        malformed = _chunk_malformed(rng, malformed_rate)
        classes = rng.integers(0, len(MALFORMED_CLASSES), CHUNK_SIZE)
        variants = rng.integers(0, 1 << 16, CHUNK_SIZE)
        columns = _valid_chunk(rng, size)
        columns["member_id"] = [f"SYN-{seed}-{start + index}" for index in range(size)]
        ordered = [columns[name] for name in RAW_FIELDS]
        for index, values in enumerate(zip(*ordered, strict=True)):
            record: RawRecord = dict(zip(RAW_FIELDS, values, strict=True))
            malformed_class = None
            if malformed[index]:
                malformed_class = MALFORMED_CLASSES[classes[index]]
                _corrupt(record, malformed_class, int(variants[index]))
            yield GeneratedApplicant(record, malformed_class)


def generate(n: int, seed: int, malformed_rate: float = 0.0) -> Iterator[RawRecord]:
    """``n`` synthetic raw applicants (``SYN-<seed>-<position>``); see the module docstring."""
    for generated in generate_labelled(n, seed, malformed_rate):
        yield generated.record
