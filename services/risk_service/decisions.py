"""Turning a probability of default into approve / review / decline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lendstream.services.risk_service.settings import ThresholdOverrides

APPROVE, REVIEW, DECLINE = "approve", "review", "decline"
DECISIONS = (APPROVE, REVIEW, DECLINE)


class ThresholdError(ValueError):
    """Thresholds that are missing or out of order."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """``p < review_at`` → approve, ``review_at ≤ p < decline_at`` → review, else decline."""

    review_at: float
    decline_at: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.review_at <= self.decline_at <= 1.0:
            raise ThresholdError(
                f"thresholds must satisfy 0 <= review_at <= decline_at <= 1, got review_at="
                f"{self.review_at} decline_at={self.decline_at}"
            )

    @classmethod
    def resolve(cls, overrides: ThresholdOverrides, metadata: Mapping[str, Any]) -> Thresholds:
        """The environment's thresholds where set, else the artifact's suggested ones."""
        suggested = metadata.get("thresholds") or {}
        review = overrides.review_at if overrides.review_at is not None else suggested.get("review")
        decline = (
            overrides.decline_at if overrides.decline_at is not None else suggested.get("decline")
        )
        if review is None or decline is None:
            raise ThresholdError(
                "the artifact suggests no thresholds: set LENDSTREAM_RISK_REVIEW_AT and "
                "LENDSTREAM_RISK_DECLINE_AT"
            )
        return cls(review_at=float(review), decline_at=float(decline))

    def decide(self, probability_of_default: float) -> str:
        if probability_of_default >= self.decline_at:
            return DECLINE
        if probability_of_default >= self.review_at:
            return REVIEW
        return APPROVE
