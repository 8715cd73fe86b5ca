"""The unit tests start no service (`make test-fast`): a test here that asks for a part of the
local stack or the simulated layout, directly or through another fixture, or carries a marker
saying it needs one, stops the run before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT_TESTS = Path(__file__).parent
SERVICE_FIXTURES = frozenset(
    {"stack_mysql", "stack_kafka", "stack_hbase", "stack_storm", "simulated_layout"}
)
SERVICE_MARKERS = frozenset({"mysql", "stack", "vcluster", "vagrant"})


def services_needed(item: pytest.Item) -> list[str]:
    """The service fixtures and markers of one test, empty when it needs none."""
    fixtures = SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    markers = SERVICE_MARKERS.intersection(mark.name for mark in item.iter_markers())
    return sorted(fixtures) + [f"@pytest.mark.{name}" for name in sorted(markers)]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    offenders = [
        f"{item.nodeid}: {', '.join(needed)}"
        for item in items
        if item.path.is_relative_to(UNIT_TESTS) and (needed := services_needed(item))
    ]
    if offenders:
        raise pytest.UsageError(
            "tests/unit starts no service; move these tests to the directory of the part they "
            "need (tests/topology, tests/services, tests/stack …):\n  " + "\n  ".join(offenders)
        )
