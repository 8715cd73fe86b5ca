"""The model's features: the one list, how a batch of clean applicants becomes a frame, and checks.

Features come from the *clean* applicant (``CleanApplicant.as_dict()``), never from the raw record,
so training and serving share :func:`lendstream.pipeline.rules.clean`. Only fields known when the
loan is applied for are used; :data:`LEAKAGE_FIELDS` names outcome and payment fields that must
never become features (the original system's model leaked ``total_rec_int``).

Origination-time fields of the clean record that the training data (``modeldata/lending_club``)
does not carry — ``loan_amnt``, ``dti``, ``home_ownership``, ``bc_open_to_buy``, ``bc_util``,
``fund_rate`` — are deliberately not features: a model cannot learn from a column that is constant
in its training data, and imputing them would only pretend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

# Counts, rates and percentages: median-imputed, then standardised.
NUMERIC_FEATURES: tuple[str, ...] = (
    "term_months",
    "int_rate",
    "emp_length_years",
    "revol_util",
    "all_util",
    "delinq_2yrs",
    "inq_last_6mths",
    "acc_now_delinq",
    "open_il_6m",
    "open_il_12m",
    "open_il_24m",
    "inq_fi",
    "inq_last_12m",
    "num_il_tl",
)
# Money: skewed, so log1p first, then median-imputed and standardised.
LOG_FEATURES: tuple[str, ...] = (
    "funded_amnt",
    "annual_inc",
    "total_bal_il",
    "total_il_high_credit_limit",
    "delinq_amnt",
)
# Strings: one-hot; a blank becomes its own level, an unseen level is ignored. ``addr_state`` is
# left out: 50 levels against about 400 bad loans in training overfit (cross-validated AUC fell).
CATEGORICAL_FEATURES: tuple[str, ...] = (
    "grade",
    "sub_grade",
    "verification_status",
)
FEATURES: tuple[str, ...] = NUMERIC_FEATURES + LOG_FEATURES + CATEGORICAL_FEATURES

# The baselines: LendingClub's own grade, and nothing else.
SUB_GRADE_BASELINE_FEATURES: tuple[str, ...] = ("sub_grade",)
GRADE_BASELINE_FEATURES: tuple[str, ...] = ("grade",)

# What happened after origination: outcomes, payments, recoveries, later credit pulls.
LEAKAGE_FIELDS: frozenset[str] = frozenset(
    {
        "Class",
        "loan_status",
        "total_pymnt",
        "total_pymnt_inv",
        "total_rec_prncp",
        "total_rec_int",
        "total_rec_late_fee",
        "recoveries",
        "collection_recovery_fee",
        "last_pymnt_d",
        "last_pymnt_amnt",
        "next_pymnt_d",
        "out_prncp",
        "out_prncp_inv",
        "last_credit_pull_d",
        "last_fico_range_high",
        "last_fico_range_low",
        "hardship_flag",
        "debt_settlement_flag",
        "settlement_status",
        "pymnt_plan",
        "paid_total",
        "paid_principal",
        "paid_interest",
        "paid_late_fees",
        "balance",
    }
)

MISSING_CATEGORY = "(blank)"


@dataclass(frozen=True, slots=True)
class FeatureProblem:
    """One bad feature of one applicant: what the risk service lists in its 422 answer."""

    field: str
    problem: str


def feature_problems(record: Any, features: Sequence[str] = FEATURES) -> list[FeatureProblem]:
    """Check a clean applicant against the feature list; an empty list means it can be scored.

    Numbers must be finite numbers (not booleans) or null; categories strings or null. Null means
    unknown and is imputed, as a blank is in training.
    """
    if not isinstance(record, Mapping):
        return [FeatureProblem("(record)", f"must be a JSON object, not {type(record).__name__}")]
    problems = []
    for name in features:
        if name not in record:
            problems.append(FeatureProblem(name, "is missing (send null when unknown)"))
            continue
        value = record[name]
        if value is None:
            continue
        if name in CATEGORICAL_FEATURES:
            if not isinstance(value, str):
                problems.append(FeatureProblem(name, f"must be a string or null, not {value!r}"))
        elif isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(FeatureProblem(name, f"must be a number or null, not {value!r}"))
        elif not math.isfinite(value):
            problems.append(FeatureProblem(name, f"must be a finite number, not {value!r}"))
    return problems


def features_frame(
    records: Sequence[Mapping[str, Any]], features: Sequence[str] = FEATURES
) -> pd.DataFrame:
    """One frame for a whole batch of clean applicants: floats for numbers, strings or NaN."""
    columns: dict[str, np.ndarray] = {}
    for name in features:
        values = [record.get(name) for record in records]
        if name in CATEGORICAL_FEATURES:
            columns[name] = np.array(
                [MISSING_CATEGORY if value is None else value for value in values], dtype=object
            )
        else:
            columns[name] = np.array(
                [np.nan if value is None else value for value in values], dtype=np.float64
            )
    return pd.DataFrame(columns, columns=list(features))


def preprocessor(features: Sequence[str] = FEATURES) -> ColumnTransformer:
    """Impute and scale the numbers (log of money first), one-hot the categories."""
    numeric = [name for name in features if name in NUMERIC_FEATURES]
    logged = [name for name in features if name in LOG_FEATURES]
    categorical = [name for name in features if name in CATEGORICAL_FEATURES]
    transformers: list[tuple[str, Pipeline | OneHotEncoder, list[str]]] = []
    if numeric:
        transformers.append(
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric)
        )
    if logged:
        log1p = FunctionTransformer(np.log1p, feature_names_out="one-to-one")
        transformers.append(
            (
                "log_money",
                make_pipeline(log1p, SimpleImputer(strategy="median"), StandardScaler()),
                logged,
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                categorical,
            )
        )
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)
