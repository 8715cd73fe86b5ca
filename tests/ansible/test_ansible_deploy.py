"""site.yml on the simulated cluster (small layout): common, artifacts, HDFS and YARN deploy from
bare nodes, a second run changes nothing, the YARN smoke job runs on every NodeManager, and the
testinfra suite for those roles passes. Prints the timings; asserts none."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lendstream.cluster import Layout, load_cluster
from lendstream.stack import artifacts
from lendstream.vcluster import lifecycle, nodes
from lendstream.vcluster.paths import inventory_path

pytestmark = [pytest.mark.vcluster, pytest.mark.slow]

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPOSITORY_ROOT / "ansible"
BIN_DIR = Path(sys.executable).parent
# The small layout by default (CI); LENDSTREAM_DEPLOY_LAYOUT=montana for the production shape.
LAYOUT = os.environ.get("LENDSTREAM_DEPLOY_LAYOUT", "ci")
DEPLOY_TIMEOUT_S = 1500
INFRA_TESTS = [
    "tests/infra/test_infra_common.py",
    "tests/infra/test_infra_artifacts.py",
    "tests/infra/test_infra_hdfs.py",
    "tests/infra/test_infra_yarn.py",
]
HADOOP_ONLY = [
    "-e",
    '{"lendstream_components": ["hadoop"]}',
    "--tags",
    "common,artifacts,hdfs,yarn",
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Layout]:
    layout = load_cluster().layout(LAYOUT)
    running = [n.name for n in layout.nodes if nodes.launcher_pid(layout, n) is not None]
    if running:
        pytest.fail(
            f"layout {layout.name} is already running ({', '.join(running)}); this test deploys "
            f"from bare nodes and tears them down: python -m lendstream.vcluster down --layout "
            f"{layout.name}"
        )
    artifacts.bundle_path("hadoop")  # built once on the controller, pushed by the artifacts role
    lifecycle.up(layout)
    try:
        yield layout
    finally:
        lifecycle.down(layout)


def _environment() -> dict[str, str]:
    return dict(
        os.environ,
        PATH=f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
        NO_COLOR="1",
    )


def _run(argv: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=DEPLOY_TIMEOUT_S,
        check=False,
    )
    return result, time.monotonic() - started


def _playbook(layout: Layout, playbook: str, *extra: str) -> tuple[str, float]:
    inventory = str(inventory_path(layout.name))
    result, elapsed = _run(
        [str(BIN_DIR / "ansible-playbook"), "-i", inventory, playbook, *extra], ANSIBLE_DIR
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return result.stdout, elapsed


def _changed_per_host(recap_output: str) -> dict[str, int]:
    return {
        host: int(changed)
        for host, changed in re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", recap_output, re.M)
    }


def test_site_deploys_reruns_unchanged_and_passes_testinfra(cluster: Layout) -> None:
    first, first_s = _playbook(cluster, "site.yml", *HADOOP_ONLY)
    assert sum(_changed_per_host(first).values()) > 0
    second, second_s = _playbook(cluster, "site.yml", *HADOOP_ONLY)
    changed = _changed_per_host(second)
    assert set(changed) == {node.name for node in cluster.nodes}
    assert not any(changed.values()), f"second run changed something: {changed}"
    smoke, smoke_s = _playbook(cluster, "playbooks/yarn-smoke.yml")
    assert "SUCCEEDED" in smoke
    infra, infra_s = _run(
        [
            str(BIN_DIR / "pytest"),
            *INFRA_TESTS,
            "--hosts=ansible://all",
            f"--ansible-inventory={inventory_path(cluster.name)}",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        REPOSITORY_ROOT,
    )
    assert infra.returncode == 0, infra.stdout[-6000:]
    print(
        f"\nsite.yml (common, artifacts, hdfs, yarn) on {cluster.name}: first run {first_s:.0f} s, "
        f"second run {second_s:.0f} s (changed=0), YARN smoke {smoke_s:.0f} s, "
        f"testinfra {infra_s:.0f} s"
    )
