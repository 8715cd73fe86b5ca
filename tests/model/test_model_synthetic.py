"""The synthetic generator: seeded, calibrated, and malformed exactly where it says."""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from lendstream.model.data import lending_club_raw_records
from lendstream.model.synthetic import (
    GRADE_SHARES,
    MALFORMED_CLASSES,
    TARGET_DTI_MEAN,
    generate,
    generate_labelled,
    malformed_positions,
)
from lendstream.pipeline.record import RAW_FIELDS
from lendstream.pipeline.rules import InvalidApplicant, clean

CALIBRATION_SAMPLE = 60_000


@pytest.fixture(scope="module")
def calibration_sample() -> list:
    return [clean(record) for record in generate(CALIBRATION_SAMPLE, seed=11)]


def test_same_seed_same_records_other_seed_other_records() -> None:
    first = list(generate(2000, seed=3, malformed_rate=0.05))
    assert first == list(generate(2000, seed=3, malformed_rate=0.05))
    other = list(generate(2000, seed=4, malformed_rate=0.05))
    assert [record.get("annual_inc") for record in other] != [
        record.get("annual_inc") for record in first
    ]


def test_a_shorter_run_is_a_prefix_of_a_longer_one() -> None:
    assert list(generate(9000, seed=5))[:100] == list(generate(100, seed=5))


def test_member_ids_and_raw_formats() -> None:
    records = list(generate(5000, seed=8))
    assert [record["member_id"] for record in records[:2]] == ["SYN-8-0", "SYN-8-1"]
    assert all(tuple(record) == RAW_FIELDS for record in records)
    assert {record["term"] for record in records} == {" 36 months", " 60 months"}
    assert all(re.fullmatch(r" \d{1,2}\.\d\d%", record["int_rate"]) for record in records)
    assert "10+ years" in {record["emp_length"] for record in records}
    assert "n/a" in {record["emp_length"] for record in records}
    assert all(re.fullmatch(r"\d+\.\d+", record["annual_inc"]) for record in records)


def test_valid_records_all_clean(calibration_sample: list) -> None:
    assert len(calibration_sample) == CALIBRATION_SAMPLE


def test_grade_shares_match_the_published_ones(calibration_sample: list) -> None:
    counts = collections.Counter(applicant.grade for applicant in calibration_sample)
    for grade, share in GRADE_SHARES.items():
        assert counts[grade] / CALIBRATION_SAMPLE == pytest.approx(share, abs=0.006)


def test_dti_mean_and_outliers_match_lending_club(calibration_sample: list) -> None:
    dti = np.array([a.dti for a in calibration_sample if a.dti is not None])
    assert dti.mean() == pytest.approx(TARGET_DTI_MEAN, abs=0.4)
    assert dti.max() == 999.0
    assert 0 < len(calibration_sample) - len(dti) < 0.005 * CALIBRATION_SAMPLE


def test_blanks_appear_where_lending_club_has_them(calibration_sample: list) -> None:
    no_bc = sum(a.bc_open_to_buy == 0.0 and a.bc_util == 0.0 for a in calibration_sample)
    assert 0.005 * CALIBRATION_SAMPLE < no_bc < 0.02 * CALIBRATION_SAMPLE
    unknown_employment = sum(a.emp_length_years is None for a in calibration_sample)
    assert 0.03 * CALIBRATION_SAMPLE < unknown_employment < 0.10 * CALIBRATION_SAMPLE


def test_income_and_rates_are_calibrated_to_the_real_rows(calibration_sample: list) -> None:
    real = [clean(record) for record in lending_club_raw_records()]
    income = np.array([a.annual_inc for a in calibration_sample])
    real_income = np.array([a.annual_inc for a in real])
    assert np.median(income) == pytest.approx(np.median(real_income), rel=0.05)
    assert np.mean(income < 20_000) == pytest.approx(np.mean(real_income < 20_000), abs=0.01)
    real_rates: dict[str, set[float]] = collections.defaultdict(set)
    for applicant in real:
        real_rates[applicant.sub_grade or ""].add(applicant.int_rate)
    assert all(a.int_rate in real_rates[a.sub_grade or ""] for a in calibration_sample)


def test_malformed_records_are_exactly_those_clean_rejects() -> None:
    seen = collections.Counter()
    for generated in generate_labelled(20_000, seed=21, malformed_rate=0.05):
        try:
            clean(generated.record)
        except InvalidApplicant:
            assert generated.malformed is not None, generated.record
            seen[generated.malformed] += 1
        else:
            assert generated.malformed is None, generated.record
    assert set(seen) == set(MALFORMED_CLASSES)
    assert sum(seen.values()) == pytest.approx(1000, rel=0.15)


def test_malformed_positions_reconcile_without_generating() -> None:
    labelled = list(generate_labelled(20_000, seed=21, malformed_rate=0.05))
    expected = [index for index, item in enumerate(labelled) if item.malformed is not None]
    assert malformed_positions(20_000, seed=21, malformed_rate=0.05).tolist() == expected
    assert len(malformed_positions(20_000, seed=21, malformed_rate=0.0)) == 0


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="malformed_rate"):
        next(generate(10, seed=1, malformed_rate=1.5))
    with pytest.raises(ValueError, match="n must"):
        next(generate(-1, seed=1))


def test_the_command_line_prints_records_and_a_rate() -> None:
    command = [sys.executable, "-m", "lendstream.model", "synthetic"]
    lines = subprocess.run(
        [*command, "3", "--seed", "2"], check=True, capture_output=True, text=True, timeout=120
    ).stdout.splitlines()
    assert [json.loads(line) for line in lines] == list(generate(3, seed=2))
    summary = subprocess.run(
        [*command, "100000", "--seed", "2", "--malformed-rate", "0.01", "--summary"],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    figures = json.loads(summary)
    print(f"synthetic applicants: {figures['records_per_second']:,} records/s")
    assert figures["records"] == 100_000
    assert figures["malformed"] == len(malformed_positions(100_000, 2, 0.01))
