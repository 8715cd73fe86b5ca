"""The real rows, rendered as raw LendingClub applicants the pipeline's `clean` accepts."""

from __future__ import annotations

import re

import numpy as np

from lendstream.model.data import (
    lending_club_labelled,
    lending_club_raw_records,
    training_data_sha256,
)
from lendstream.pipeline.record import RAW_FIELDS
from lendstream.pipeline.rules import clean

NOT_IN_THE_DATA_SET = ("loan_amnt", "dti", "bc_open_to_buy", "bc_util", "home_ownership")


def test_all_real_rows_with_the_raw_fields() -> None:
    records = lending_club_raw_records()
    assert len(records) == 9857
    assert all(tuple(record) == RAW_FIELDS for record in records)


def test_values_are_in_lending_clubs_raw_formats() -> None:
    records = lending_club_raw_records()
    assert {record["term"] for record in records} == {" 36 months", " 60 months"}
    assert all(re.fullmatch(r" \d{1,2}\.\d\d%", record["int_rate"] or "") for record in records)
    assert all(re.fullmatch(r"\d{1,3}\.\d%", record["revol_util"] or "") for record in records)
    assert {record["emp_length"] for record in records} == {
        "< 1 year",
        "1 year",
        *(f"{years} years" for years in range(2, 10)),
        "10+ years",
        "n/a",
    }
    assert {record["verification_status"] for record in records} == {
        "Not Verified",
        "Source Verified",
        "Verified",
    }
    assert all(record["grade"] == (record["sub_grade"] or "?")[0] for record in records)
    assert all(re.fullmatch(r"\d+\.\d+", record["annual_inc"] or "") for record in records)
    first = records[0]
    assert (first["member_id"], first["funded_amnt"], first["int_rate"]) == (
        "LC16Q1-000001",
        "16100.0",
        " 13.99%",
    )


def test_fields_the_data_set_lacks_are_none_not_invented() -> None:
    for record in lending_club_raw_records():
        assert all(record[name] is None for name in NOT_IN_THE_DATA_SET)


def test_member_ids_are_unique() -> None:
    ids = [record["member_id"] for record in lending_club_raw_records()]
    assert len(set(ids)) == len(ids)


def test_every_real_row_cleans() -> None:
    for record in lending_club_raw_records():
        clean(record)


def test_labels_mark_the_bad_loans_and_the_hash_is_stable() -> None:
    records, labels = lending_club_labelled()
    assert labels.shape == (len(records),)
    assert set(np.unique(labels)) == {0, 1}
    assert int(labels.sum()) == 517
    assert "Class" not in records[0]
    digest = training_data_sha256(records, labels)
    assert digest == training_data_sha256(*lending_club_labelled())
    flipped = labels.copy()
    flipped[0] = 1 - flipped[0]
    assert training_data_sha256(records, flipped) != digest


def test_callers_get_copies() -> None:
    lending_club_raw_records()[0]["member_id"] = "changed"
    assert lending_club_raw_records()[0]["member_id"] == "LC16Q1-000001"
