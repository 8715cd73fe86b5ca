"""Held-out metrics of a default score: ROC AUC, KS, Brier, calibration, paired bootstrap."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    """One bin of predicted probabilities and the default rate observed in it."""

    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True, slots=True)
class ScoreMetrics:
    roc_auc: float
    ks: float
    brier: float
    base_rate: float
    calibration: tuple[CalibrationBin, ...]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PairedBootstrap:
    """Bootstrap distribution of AUC(model) - AUC(baseline), resampling held-out rows in pairs."""

    observed_difference: float
    ci_low: float
    ci_high: float
    confidence: float
    resamples: int
    share_model_better: float
    seed: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def kolmogorov_smirnov(y_true: np.ndarray, score: np.ndarray) -> float:
    """KS statistic: the largest gap between the score's distributions for bad and good loans."""
    false_positive_rate, true_positive_rate, _ = roc_curve(y_true, score)
    return float(np.max(true_positive_rate - false_positive_rate))


def calibration_bins(y_true: np.ndarray, score: np.ndarray, bins: int = 10) -> list[CalibrationBin]:
    """Equal-count bins of the predicted probability (deciles by default)."""
    order = np.argsort(score, kind="stable")
    result = []
    for indices in np.array_split(order, bins):
        if len(indices) == 0:
            continue
        predicted = score[indices]
        result.append(
            CalibrationBin(
                lower=float(predicted.min()),
                upper=float(predicted.max()),
                count=len(indices),
                mean_predicted=float(predicted.mean()),
                observed_rate=float(y_true[indices].mean()),
            )
        )
    return result


def score_metrics(y_true: np.ndarray, score: np.ndarray, bins: int = 10) -> ScoreMetrics:
    return ScoreMetrics(
        roc_auc=float(roc_auc_score(y_true, score)),
        ks=kolmogorov_smirnov(y_true, score),
        brier=float(brier_score_loss(y_true, score)),
        base_rate=float(np.mean(y_true)),
        calibration=tuple(calibration_bins(y_true, score, bins)),
    )


def paired_bootstrap_auc_difference(
    y_true: np.ndarray,
    model_score: np.ndarray,
    baseline_score: np.ndarray,
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedBootstrap:
    """Percentile CI of AUC(model) - AUC(baseline) over bootstrap resamples of the same rows.

    Resamples are drawn within each class (stratified), so every resample has bad and good loans.
    """
    rng = np.random.default_rng(seed)
    bad = np.flatnonzero(y_true == 1)
    good = np.flatnonzero(y_true == 0)
    differences = np.empty(resamples)
    for index in range(resamples):
        rows = np.concatenate([rng.choice(bad, size=len(bad)), rng.choice(good, size=len(good))])
        labels = y_true[rows]
        differences[index] = roc_auc_score(labels, model_score[rows]) - roc_auc_score(
            labels, baseline_score[rows]
        )
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(differences, [tail, 1.0 - tail])
    return PairedBootstrap(
        observed_difference=float(
            roc_auc_score(y_true, model_score) - roc_auc_score(y_true, baseline_score)
        ),
        ci_low=float(low),
        ci_high=float(high),
        confidence=confidence,
        resamples=resamples,
        share_model_better=float(np.mean(differences > 0)),
        seed=seed,
    )
