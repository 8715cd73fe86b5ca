"""The node tests run on the session's simulated layout (tests/conftest.py), booted bare."""

from __future__ import annotations

import pytest

from lendstream.cluster import Layout


@pytest.fixture
def vcluster(simulated_layout: Layout) -> Layout:
    return simulated_layout
