"""The held-out metrics on scores whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from lendstream.model.evaluation import (
    calibration_bins,
    kolmogorov_smirnov,
    paired_bootstrap_auc_difference,
    score_metrics,
)


@pytest.fixture
def labels() -> np.ndarray:
    return np.random.default_rng(0).random(4000) < 0.1


def test_ks_is_one_for_a_perfect_score_and_small_for_noise(labels: np.ndarray) -> None:
    assert kolmogorov_smirnov(labels, labels.astype(float)) == 1.0
    noise = np.random.default_rng(1).random(len(labels))
    assert kolmogorov_smirnov(labels, noise) < 0.1


def test_calibration_bins_cover_every_row_in_order(labels: np.ndarray) -> None:
    score = np.random.default_rng(2).random(len(labels))
    bins = calibration_bins(labels, score, bins=10)
    assert sum(item.count for item in bins) == len(labels)
    means = [item.mean_predicted for item in bins]
    assert means == sorted(means)
    assert np.average([item.observed_rate for item in bins], weights=[b.count for b in bins]) == (
        pytest.approx(labels.mean())
    )


def test_brier_of_the_base_rate_is_its_variance(labels: np.ndarray) -> None:
    rate = labels.mean()
    metrics = score_metrics(labels, np.full(len(labels), rate))
    assert metrics.brier == pytest.approx(rate * (1 - rate))
    assert metrics.roc_auc == 0.5


def test_bootstrap_of_a_score_against_itself_is_zero(labels: np.ndarray) -> None:
    score = np.random.default_rng(3).random(len(labels)) + labels * 0.3
    result = paired_bootstrap_auc_difference(labels, score, score, resamples=50, seed=1)
    assert (result.observed_difference, result.ci_low, result.ci_high) == (0.0, 0.0, 0.0)


def test_bootstrap_sees_a_clearly_better_score(labels: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    weak = rng.random(len(labels)) + labels * 0.1
    strong = rng.random(len(labels)) + labels * 0.6
    result = paired_bootstrap_auc_difference(labels, strong, weak, resamples=200, seed=1)
    assert 0.0 < result.ci_low <= result.observed_difference <= result.ci_high
    assert result.share_model_better == 1.0
    again = paired_bootstrap_auc_difference(labels, strong, weak, resamples=200, seed=1)
    assert again == result
