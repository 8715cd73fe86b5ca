"""The small layout, booted once for the vcluster tests and torn down (verified clean) after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lendstream.cluster import Layout, load_cluster
from lendstream.vcluster import lifecycle, nodes

TEST_LAYOUT = "ci"


@pytest.fixture(scope="session")
def vcluster() -> Iterator[Layout]:
    layout = load_cluster().layout(TEST_LAYOUT)
    running = [n.name for n in layout.nodes if nodes.launcher_pid(layout, n) is not None]
    if running:
        pytest.fail(
            f"layout {layout.name} is already running ({', '.join(running)}), perhaps someone's "
            f"deployment; the tests tear it down, so stop it first: "
            f"python -m lendstream.vcluster down --layout {layout.name}"
        )
    lifecycle.up(layout)
    yield layout
    lifecycle.down(layout)
    leftovers = lifecycle.leftovers_of(layout)
    assert not leftovers, f"teardown left: {leftovers}"
