"""The one deployment the cluster-level suites share (tests/cluster: deploy, faults), and the
helpers they call: playbooks with the layout's inventory and Vault, loads, the reconcile on a node.

The session's simulated layout (tests/conftest.py) is booted from bare nodes and torn down after
its last test; `site_first_run` runs site.yml once, whichever module asks first.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lendstream.chaos.cluster import ChaosCluster
from lendstream.cluster import Layout
from lendstream.vcluster.paths import inventory_path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPOSITORY_ROOT / "ansible"
BIN_DIR = Path(sys.executable).parent
PLAYBOOK_TIMEOUT_S = 2400
RECONCILE_TIMEOUT_S = 900
FIGURES: dict[str, str] = {}
# Every playbook run's full output (task timings at the end), for a failure or a slow run.
LOG_DIR = REPOSITORY_ROOT / ".cache" / "cluster-test"


@dataclass
class Cluster:
    layout: Layout
    environment: dict[str, str]
    token: str
    groups: dict[str, tuple[str, ...]]
    addresses: dict[str, str]
    first_model: Path
    second_model: Path
    chaos: ChaosCluster
    # site.yml's first run from bare nodes (output, seconds), once per deployment.
    first_run: tuple[str, float] | None = None
    # The output of site.yml's changed=0 rerun right after it (the check-mode test compares).
    rerun_output: str | None = None


def run(
    cluster: Cluster, argv: list[str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=cluster.environment,
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT_S,
        check=False,
    )
    return result, time.monotonic() - started


def run_testinfra(
    cluster: Cluster, *arguments: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """pytest with ``arguments`` (tests/infra or part of it) on the layout's inventory, one xdist
    worker per node: the checks mostly wait on their SSH round trips."""
    argv = [
        str(BIN_DIR / "pytest"),
        *arguments,
        f"--ansible-inventory={inventory_path(cluster.layout.name)}",
        *("-q", "-p", "no:cacheprovider", "-n", str(len(cluster.layout.nodes))),
    ]
    return run(cluster, argv, REPOSITORY_ROOT)


def playbook(cluster: Cluster, name: str, *extra: str, succeed: bool = True) -> tuple[str, float]:
    """Runs a playbook with the layout's inventory (and the first model); asserts that it
    succeeds, or with ``succeed`` false that it fails. Returns its output and duration."""
    inventory = str(inventory_path(cluster.layout.name))
    model = f"pipeline_model_dir={cluster.first_model}"
    argv = [str(BIN_DIR / "ansible-playbook"), "-i", inventory, "-e", model, name, *extra]
    result, elapsed = run(cluster, argv, ANSIBLE_DIR)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{len(list(LOG_DIR.glob('*.log'))):02d}-{Path(name).stem}.log"
    log.write_text(result.stdout + result.stderr)
    assert (result.returncode == 0) == succeed, (
        f"{log}:\n" + result.stdout[-6000:] + result.stderr[-2000:]
    )
    return result.stdout, elapsed


def site_first_run(cluster: Cluster) -> tuple[str, float]:
    """site.yml from bare nodes, run once for the deployment (output, seconds)."""
    if cluster.first_run is None:
        cluster.first_run = playbook(cluster, "site.yml")
    return cluster.first_run


def changed_per_host(recap_output: str) -> dict[str, int]:
    return {
        host: int(changed)
        for host, changed in re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", recap_output, re.M)
    }


def tasks_run(playbook_output: str) -> Counter[tuple[str, str]]:
    """How many times each task ran (ok or changed, loop items counted) on each host, from the
    default callback's output: (task, host) → count. Skipped and failed runs are not counted."""
    counts: Counter[tuple[str, str]] = Counter()
    task = None
    for line in playbook_output.splitlines():
        header = re.match(r"^TASK \[(.+)\] \*+$", line)
        if header:
            task = header.group(1)
            continue
        result = re.match(r"^(?:ok|changed): \[([^\]]+)\]", line)
        if result and task is not None:
            counts[task, result.group(1)] += 1
    return counts


def load_applicants(cluster: Cluster, *extra_vars: str) -> int:
    """Runs playbooks/load-applicants.yml; returns the applicants table's row count after it."""
    output, elapsed = playbook(
        cluster, "playbooks/load-applicants.yml", *itertools.chain(*(("-e", v) for v in extra_vars))
    )
    rows = re.findall(r'"table_rows": (\d+)', output)
    assert rows, output[-3000:]
    FIGURES.setdefault("loads", "")
    FIGURES["loads"] += f" {rows[-1]} rows after {elapsed:.0f} s;"
    return int(rows[-1])


def reconcile_on_a_node(cluster: Cluster) -> dict[str, Any]:
    """`python -m lendstream.reconcile --json` on a supervisor (the controller cannot resolve the
    names Kafka advertises); its summary."""
    return cluster.chaos.reconcile(drain_timeout_s=RECONCILE_TIMEOUT_S)
