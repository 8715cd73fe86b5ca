"""Fixtures of the topology's unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from scripted_risk_service import ScriptedRiskService


@pytest.fixture
def risk_service() -> Iterator[ScriptedRiskService]:
    with ScriptedRiskService() as service:
        yield service
