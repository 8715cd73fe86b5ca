"""The feature list: origination-time fields of the clean record only, and its input checks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from lendstream.model.data import lending_club_raw_records
from lendstream.model.features import (
    CATEGORICAL_FEATURES,
    FEATURES,
    LEAKAGE_FIELDS,
    LOG_FEATURES,
    NUMERIC_FEATURES,
    feature_problems,
    features_frame,
)
from lendstream.pipeline.record import CLEAN_FIELDS
from lendstream.pipeline.rules import clean


def clean_example() -> dict[str, Any]:
    return clean(lending_club_raw_records()[0]).as_dict()


def test_no_leakage_field_is_a_feature() -> None:
    assert not set(FEATURES) & LEAKAGE_FIELDS


def test_features_are_fields_of_the_clean_record_and_not_its_key() -> None:
    assert set(FEATURES) <= set(CLEAN_FIELDS)
    assert "member_id" not in FEATURES


def test_each_feature_has_one_kind() -> None:
    kinds = (NUMERIC_FEATURES, LOG_FEATURES, CATEGORICAL_FEATURES)
    assert sum(len(kind) for kind in kinds) == len(FEATURES) == len(set(FEATURES))


def test_fitted_model_reads_exactly_the_features(artifact_dir: Any) -> None:
    from lendstream.model import artifact  # noqa: PLC0415

    loaded = artifact.load(artifact_dir)
    assert tuple(loaded.pipeline.feature_names_in_) == FEATURES
    assert not set(loaded.metadata["features"]) & LEAKAGE_FIELDS


def test_a_clean_record_has_no_problem() -> None:
    assert feature_problems(clean_example()) == []


def test_nulls_are_accepted_as_unknown() -> None:
    record = clean_example() | {"revol_util": None, "sub_grade": None}
    assert feature_problems(record) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("int_rate", "13.99"),
        ("annual_inc", True),
        ("funded_amnt", math.inf),
        ("sub_grade", 4),
        ("term_months", [36]),
    ],
)
def test_a_wrong_type_is_reported_by_field(field: str, value: Any) -> None:
    problems = feature_problems(clean_example() | {field: value})
    assert [problem.field for problem in problems] == [field]


def test_missing_fields_and_non_objects_are_reported() -> None:
    record = clean_example()
    del record["annual_inc"]
    assert [problem.field for problem in feature_problems(record)] == ["annual_inc"]
    assert feature_problems(["not", "an", "object"])[0].field == "(record)"


def test_frame_has_numbers_as_floats_and_blanks_as_nan() -> None:
    records = [clean_example(), clean_example() | {"revol_util": None, "sub_grade": None}]
    frame = features_frame(records)
    assert list(frame.columns) == list(FEATURES)
    assert frame["revol_util"].dtype == np.float64
    assert np.isnan(frame["revol_util"].iloc[1])
    assert frame["sub_grade"].iloc[0] == "C4"
    assert frame["sub_grade"].iloc[1] != frame["sub_grade"].iloc[0]
