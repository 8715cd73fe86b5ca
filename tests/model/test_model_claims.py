"""What README.md and docs/model.md say the model measures is what training measures.

The figures below are the ones both documents print; training is deterministic (same data, code
and seed give the same version and scores), so the shipped configuration must reproduce each of
them to the digits printed, and each document must still print them. A change to the model that
moves a figure fails here until the documents say what was measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lendstream.model import artifact
from lendstream.model.train import GRADE_BASELINE, MODEL_NAME, SUB_GRADE_BASELINE

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]

# Held out: ROC AUC, KS, Brier (docs/model.md's table; README.md's AUCs).
HELD_OUT = {
    MODEL_NAME: (0.754, 0.419, 0.0474),
    SUB_GRADE_BASELINE: (0.710, 0.353, 0.0482),
    GRADE_BASELINE: (0.755, 0.375, 0.0471),
}
HELD_OUT_ROWS = {
    MODEL_NAME: "model",
    SUB_GRADE_BASELINE: "sub-grade only",
    GRADE_BASELINE: "grade letter only",
}
# Paired bootstrap of AUC(model) - AUC(baseline) on the held-out rows: difference, 95 % CI.
BOOTSTRAP = {
    SUB_GRADE_BASELINE: (0.044, 0.025, 0.065),
    GRADE_BASELINE: (-0.002, -0.021, 0.017),
}
# Repeated cross-validation: folds in all, AUC mean and sd per candidate, and the margins.
CV_FOLDS = 20
CV_AUC = {
    MODEL_NAME: (0.755, 0.019),
    SUB_GRADE_BASELINE: (0.728, 0.017),
    GRADE_BASELINE: (0.730, 0.017),
}
CV_MARGIN = {SUB_GRADE_BASELINE: (0.028, 0.008), GRADE_BASELINE: (0.025, 0.009)}


def _metrics(artifact_dir: Path) -> dict[str, Any]:
    metrics: dict[str, Any] = artifact.load(artifact_dir).metadata["metrics"]
    return metrics


def _signed(value: float) -> str:
    """docs/model.md's signed form: +0.044, and a true minus sign (U+2212) for negatives."""
    return f"{value:+.3f}".replace("-", "\N{MINUS SIGN}")


def test_held_out_figures_are_the_documented_ones(artifact_dir: Path) -> None:
    held_out = _metrics(artifact_dir)["held_out"]
    measured = {
        name: (round(entry["roc_auc"], 3), round(entry["ks"], 3), round(entry["brier"], 4))
        for name, entry in held_out.items()
        if name in HELD_OUT
    }
    assert measured == HELD_OUT


def test_bootstrap_margins_are_the_documented_ones(artifact_dir: Path) -> None:
    bootstrap = _metrics(artifact_dir)["auc_difference_bootstrap"]
    measured = {
        baseline: tuple(
            round(bootstrap[f"model_minus_{baseline}"][key], 3)
            for key in ("observed_difference", "ci_low", "ci_high")
        )
        for baseline in BOOTSTRAP
    }
    assert measured == BOOTSTRAP


def test_cross_validation_figures_are_the_documented_ones(artifact_dir: Path) -> None:
    repeated = _metrics(artifact_dir)["repeated_cv"]
    assert repeated["folds"] * repeated["repeats"] == CV_FOLDS
    auc = {
        name: (round(repeated["auc"][name]["mean"], 3), round(repeated["auc"][name]["sd"], 3))
        for name in CV_AUC
    }
    assert auc == CV_AUC
    for baseline, (mean, sd) in CV_MARGIN.items():
        margin = repeated[f"model_minus_{baseline}"]
        assert (round(margin["mean"], 3), round(margin["sd"], 3)) == (mean, sd)
        # "better than each baseline in 20 of 20 folds"
        assert margin["share_of_folds_model_better"] == 1.0


@pytest.mark.parametrize("document", ["README.md", "docs/model.md"])
def test_the_documents_print_these_figures(document: str) -> None:
    text = (REPOSITORY_ROOT / document).read_text()
    model_cv, sub_grade_cv, grade_cv = (
        CV_AUC[name] for name in (MODEL_NAME, SUB_GRADE_BASELINE, GRADE_BASELINE)
    )
    if document == "README.md":
        prose = " ".join(text.split())
        assert (
            f"held-out ROC AUC {HELD_OUT[MODEL_NAME][0]:.3f} (grade-letter-only baseline "
            f"{HELD_OUT[GRADE_BASELINE][0]:.3f}, "
            f"sub-grade-only {HELD_OUT[SUB_GRADE_BASELINE][0]:.3f}; "
            f"over {CV_FOLDS} cross-validation folds {model_cv[0]:.3f} ± {model_cv[1]:.3f} against "
            f"{grade_cv[0]:.3f} and {sub_grade_cv[0]:.3f}, better in {CV_FOLDS} of {CV_FOLDS})"
        ) in prose
        return
    for name, (auc, ks, brier) in HELD_OUT.items():
        auc_text = f"**{auc:.3f}**" if name == MODEL_NAME else f"{auc:.3f}"
        assert f"| {HELD_OUT_ROWS[name]} | {auc_text} | {ks:.3f} | {brier:.4f} |" in text
    prose = " ".join(text.split())
    for baseline, label in ((SUB_GRADE_BASELINE, "sub-grade"), (GRADE_BASELINE, "grade letter")):
        difference, low, high = BOOTSTRAP[baseline]
        assert (
            f"model \N{MINUS SIGN} {label}: {_signed(difference)}, "
            f"95 % CI [{_signed(low)}, {_signed(high)}]"
        ) in prose
    assert (
        f"model {model_cv[0]:.3f} ± {model_cv[1]:.3f}, sub-grade {sub_grade_cv[0]:.3f} ± "
        f"{sub_grade_cv[1]:.3f}, grade letter {grade_cv[0]:.3f} ± {grade_cv[1]:.3f}; the model is "
        f"better than each baseline in {CV_FOLDS} of {CV_FOLDS} folds, by "
        f"{_signed(CV_MARGIN[SUB_GRADE_BASELINE][0])} ± {CV_MARGIN[SUB_GRADE_BASELINE][1]:.3f} and "
        f"{_signed(CV_MARGIN[GRADE_BASELINE][0])} ± {CV_MARGIN[GRADE_BASELINE][1]:.3f}"
    ) in prose
