"""Held-out evaluation: the model must beat LendingClub's own grade, and reach AUC 0.70."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from lendstream.model import artifact
from lendstream.model.data import lending_club_labelled
from lendstream.model.train import (
    GRADE_BASELINE,
    MODEL_NAME,
    SUB_GRADE_BASELINE,
    TrainingConfig,
    clean_records,
    held_out_split,
    train,
)

GOAL_AUC = 0.70


def held_out_metrics(artifact_dir: Path) -> dict[str, Any]:
    return artifact.load(artifact_dir).metadata["metrics"]["held_out"]


def test_model_beats_the_sub_grade_baseline_on_the_held_out_set(artifact_dir: Path) -> None:
    held_out = held_out_metrics(artifact_dir)
    assert held_out[MODEL_NAME]["roc_auc"] > held_out[SUB_GRADE_BASELINE]["roc_auc"]


def test_the_margin_over_the_sub_grade_is_more_than_bootstrap_noise(artifact_dir: Path) -> None:
    bootstrap = artifact.load(artifact_dir).metadata["metrics"]["auc_difference_bootstrap"]
    margin = bootstrap[f"model_minus_{SUB_GRADE_BASELINE}"]
    assert margin["ci_low"] > 0.0
    assert margin["resamples"] == TrainingConfig().bootstrap_resamples


def test_model_beats_both_grade_baselines_across_repeated_splits(artifact_dir: Path) -> None:
    repeated = artifact.load(artifact_dir).metadata["metrics"]["repeated_cv"]
    for baseline in (SUB_GRADE_BASELINE, GRADE_BASELINE):
        assert repeated[f"model_minus_{baseline}"]["mean"] > 0.0


def test_held_out_auc_reaches_the_goal(artifact_dir: Path) -> None:
    assert held_out_metrics(artifact_dir)[MODEL_NAME]["roc_auc"] >= GOAL_AUC


def test_recorded_auc_is_what_the_saved_model_scores_on_the_held_out_rows(
    artifact_dir: Path,
) -> None:
    loaded = artifact.load(artifact_dir)
    raw_records, labels = lending_club_labelled()
    config = TrainingConfig(**loaded.metadata["config"])
    _, held_out_rows = held_out_split(labels, config)
    clean = clean_records([raw_records[row] for row in held_out_rows])
    probability = loaded.predict_default_probability(clean)
    recorded = loaded.metadata["metrics"]["held_out"][MODEL_NAME]
    assert roc_auc_score(labels[held_out_rows], probability) == recorded["roc_auc"]
    assert recorded["base_rate"] == labels[held_out_rows].mean()


def test_metrics_are_all_reported(artifact_dir: Path) -> None:
    held_out = held_out_metrics(artifact_dir)
    for name in (MODEL_NAME, SUB_GRADE_BASELINE, GRADE_BASELINE):
        entry = held_out[name]
        assert 0.0 < entry["ks"] < 1.0
        assert 0.0 < entry["brier"] < entry["base_rate"]
        assert sum(item["count"] for item in entry["calibration"]) == 2465


def test_same_data_code_and_seed_give_the_same_version_and_scores() -> None:
    quick = replace(
        TrainingConfig(), c_grid=(0.03,), inner_folds=2, bootstrap_resamples=20, cv_repeats=0
    )
    first, second = train(config=quick), train(config=quick)
    assert first.version == second.version
    np.testing.assert_array_equal(
        first.held_out_scores[MODEL_NAME], second.held_out_scores[MODEL_NAME]
    )
    other_seed = train(config=replace(quick, seed=quick.seed + 1))
    assert other_seed.version != first.version
