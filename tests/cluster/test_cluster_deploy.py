"""The whole cluster on the simulated nodes, from bare Debian to applicants in HBase, in order:

1. site.yml deploys every role (ZooKeeper, HDFS, YARN, HBase, Kafka, Storm, MariaDB, the applicant
   API, the risk service, the producer, the topology) and a second run changes nothing;
2. the YARN smoke job runs a container on every NodeManager;
3. applicants loaded into MariaDB flow through the producer, Kafka, the topology on the
   supervisors and the risk service into HBase, and `lendstream.reconcile`, run on a node,
   finds every valid applicant stored once and every malformed one dead-lettered;
4. rolling restarts of ZooKeeper, Kafka, the RegionServers and the supervisors pass their health
   gates, and applicants loaded afterwards reconcile too;
5. the testinfra suite passes on every node;
6. a new model rolls out node by node while requests keep arriving, none failing.

Layout: LENDSTREAM_DEPLOY_LAYOUT (default ci, 3 nodes; montana for the production shape). Prints
timings and throughput; asserts none.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lendstream import secrets
from lendstream.cluster import Layout, load_cluster
from lendstream.stack import artifacts
from lendstream.vcluster import lifecycle, nodes
from lendstream.vcluster.paths import inventory_path, layout_state_dir

# One deployment shared by the tests in order; the first one deploys twice.
pytestmark = [pytest.mark.vcluster, pytest.mark.slow, pytest.mark.timeout(3600)]

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPOSITORY_ROOT / "ansible"
BIN_DIR = Path(sys.executable).parent
LAYOUT = os.environ.get("LENDSTREAM_DEPLOY_LAYOUT", "ci")
PLAYBOOK_TIMEOUT_S = 2400
RECONCILE_TIMEOUT_S = 900
RISK_PORT = 8090
REQUEST_TIMEOUT_S = 15.0
LOAD_THREADS = 4
SCORE_BATCH = 10
ROLLING_RESTARTS = (
    "playbooks/restart-zookeeper.yml",
    "playbooks/restart-kafka.yml",
    "playbooks/restart-hbase-regionservers.yml",
    "playbooks/restart-storm-supervisors.yml",
)
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


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two light models of different versions (their training settings differ)."""
    from lendstream.model import artifact  # noqa: PLC0415 - heavy imports only when needed
    from lendstream.model.train import TrainingConfig, train  # noqa: PLC0415

    made = []
    for c_value in (0.1, 1.0):
        config = TrainingConfig(
            bootstrap_resamples=50, cv_folds=2, cv_repeats=1, c_grid=(c_value,), inner_folds=2
        )
        result = train(config=config)
        root = tmp_path_factory.mktemp(f"model-c{c_value}")
        made.append(artifact.save(result.pipeline, result.metadata, root=root))
    return made[0], made[1]


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, two_models: tuple[Path, Path]
) -> Iterator[Cluster]:
    layout = load_cluster().layout(LAYOUT)
    running = [n.name for n in layout.nodes if nodes.launcher_pid(layout, n) is not None]
    if running:
        pytest.fail(
            f"layout {layout.name} is already running ({', '.join(running)}); this test deploys "
            f"from bare nodes and tears them down: python -m lendstream.vcluster down --layout "
            f"{layout.name}"
        )
    for bundle in ("zookeeper", "hadoop", "hbase", "kafka", "storm"):
        artifacts.bundle_path(bundle)  # built once on the controller, pushed by the artifacts role
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    inventory_dir = layout_state_dir(layout.name)
    password_file = tmp_path_factory.mktemp("vault") / "vault.pass"
    lifecycle.up(layout)
    try:
        secrets.new_secrets(inventory_dir, password_file)
        environment = dict(
            os.environ,
            PATH=f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
            ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
            ANSIBLE_VAULT_PASSWORD_FILE=str(password_file),
            # Each task's duration, and the slowest ones at the end of every run.
            ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
            NO_COLOR="1",
        )
        yield Cluster(
            layout=layout,
            environment=environment,
            token=secrets.read_vault(inventory_dir, password_file)["vault_risk_service_token"],
            groups={group: tuple(hosts) for group, hosts in layout.groups().items()},
            addresses={node.name: str(node.address) for node in layout.nodes},
            first_model=two_models[0],
            second_model=two_models[1],
        )
    finally:
        lifecycle.down(layout)
        secrets.vault_file(inventory_dir).unlink(missing_ok=True)
        print("\n" + "\n".join(f"{name}: {figure}" for name, figure in FIGURES.items()))


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


def playbook(cluster: Cluster, name: str, *extra: str) -> tuple[str, float]:
    inventory = str(inventory_path(cluster.layout.name))
    model = f"pipeline_model_dir={cluster.first_model}"
    argv = [str(BIN_DIR / "ansible-playbook"), "-i", inventory, "-e", model, name, *extra]
    result, elapsed = run(cluster, argv, ANSIBLE_DIR)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{len(list(LOG_DIR.glob('*.log'))):02d}-{Path(name).stem}.log"
    log.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"{log}:\n" + result.stdout[-6000:] + result.stderr[-2000:]
    return result.stdout, elapsed


def changed_per_host(recap_output: str) -> dict[str, int]:
    return {
        host: int(changed)
        for host, changed in re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", recap_output, re.M)
    }


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
    """`python -m lendstream.reconcile` from the node virtualenv of the first supervisor: the
    controller cannot resolve the names Kafka advertises. Returns its JSON summary."""
    groups = cluster.groups
    argv = [
        "/opt/lendstream/venv/bin/python",
        *("-m", "lendstream.reconcile", "--json"),
        *("--bootstrap", ",".join(f"{h}:9092" for h in groups["kafka_broker"])),
        *("--topic", "lendstream.applicants"),
        *("--dead-letter-topic", "lendstream.applicants.dlq"),
        *("--group", "lendstream-topology"),
        *("--hbase-hosts", ",".join(groups["hbase_thrift"])),
        *("--hbase-port", "9090", "--table", "members"),
        *("--risk-url", ",".join(f"http://{h}:{RISK_PORT}" for h in groups["risk_service"])),
        *("--risk-token-file", "/etc/lendstream/topology/risk-service-token"),
        *("--drain-timeout-s", str(RECONCILE_TIMEOUT_S)),
    ]
    node = groups["storm_supervisor"][0]
    result, _ = run(
        cluster,
        [
            str(BIN_DIR / "ansible"),
            *("-i", str(inventory_path(cluster.layout.name)), node, "-b"),
            *("-m", "ansible.builtin.command", "-a", shlex.join(argv)),
        ],
        ANSIBLE_DIR,
    )
    output = result.stdout
    assert result.returncode == 0, output[-6000:] + result.stderr[-2000:]
    summary: dict[str, Any] = json.loads(output[output.index("{") : output.rindex("}") + 1])
    return summary


def test_site_deploys_from_bare_nodes_and_a_second_run_changes_nothing(cluster: Cluster) -> None:
    first, first_s = playbook(cluster, "site.yml")
    assert sum(changed_per_host(first).values()) > 0
    second, second_s = playbook(cluster, "site.yml")
    changed = changed_per_host(second)
    assert set(changed) == {node.name for node in cluster.layout.nodes} | {"localhost"}
    assert not any(changed.values()), f"second run changed something: {changed}"
    FIGURES["site.yml"] = f"first run {first_s:.0f} s, second run {second_s:.0f} s (changed=0)"


def test_yarn_smoke_job_runs_on_the_nodemanagers(cluster: Cluster) -> None:
    smoke, smoke_s = playbook(cluster, "playbooks/yarn-smoke.yml")
    assert "SUCCEEDED" in smoke
    FIGURES["YARN smoke"] = f"{smoke_s:.0f} s"


def test_applicants_flow_from_mysql_into_hbase_and_reconcile(cluster: Cluster) -> None:
    started = time.monotonic()
    rows = load_applicants(
        cluster,
        "load_applicants_synthetic=5000",
        "load_applicants_malformed_rate=0.02",
        "load_applicants_seed=7",
    )
    summary = reconcile_on_a_node(cluster)
    elapsed = time.monotonic() - started
    assert summary["reconciled"], summary["first_differences"]
    assert summary["differences"] == 0
    assert summary["published"] == rows
    assert summary["stored"] + summary["dead_lettered"] == rows
    assert summary["dead_lettered"] > 0
    assert summary["extra_rows"] == 0
    FIGURES["end to end"] = (
        f"{rows} applicants loaded, published, decided and reconciled in {elapsed:.0f} s "
        f"({rows / elapsed:.0f}/s, loader and reconcile included): {summary['stored']} stored, "
        f"{summary['dead_lettered']} dead-lettered, decisions {summary['decisions']}"
    )


def test_rolling_restarts_pass_their_gates_and_the_pipeline_still_reconciles(
    cluster: Cluster,
) -> None:
    timings = []
    for name in ROLLING_RESTARTS:
        _, elapsed = playbook(cluster, name)
        timings.append(f"{Path(name).stem} {elapsed:.0f} s")
    rows = load_applicants(
        cluster,
        "load_applicants_real=false",
        "load_applicants_synthetic=2000",
        "load_applicants_malformed_rate=0.02",
        "load_applicants_seed=8",
    )
    summary = reconcile_on_a_node(cluster)
    assert summary["reconciled"], summary["first_differences"]
    assert summary["published"] == rows
    FIGURES["rolling restarts"] = ", ".join(timings) + f"; then {rows} applicants reconciled"


def test_testinfra_suite_passes_on_every_node(cluster: Cluster) -> None:
    result, elapsed = run(
        cluster,
        [
            str(BIN_DIR / "pytest"),
            "tests/infra",
            "--hosts=ansible://all",
            f"--ansible-inventory={inventory_path(cluster.layout.name)}",
            *("-q", "-p", "no:cacheprovider"),
        ],
        REPOSITORY_ROOT,
    )
    assert result.returncode == 0, result.stdout[-6000:]
    FIGURES["testinfra"] = f"{result.stdout.strip().splitlines()[-1]} ({elapsed:.0f} s)"


@dataclass
class RequestTally:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    versions: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def score_body() -> bytes:
    from lendstream.model.synthetic import generate  # noqa: PLC0415
    from lendstream.pipeline.rules import InvalidApplicant, clean  # noqa: PLC0415

    applicants = []
    for raw in generate(SCORE_BATCH * 3, seed=5):
        try:
            applicants.append(clean(raw).as_dict())
        except InvalidApplicant:
            continue
    return json.dumps({"applicants": applicants[:SCORE_BATCH]}).encode()


def fire(
    addresses: list[str], token: str, body: bytes, stop: threading.Event, tally: RequestTally
) -> None:
    """POST batches round-robin over the nodes until told to stop, each on a new connection;
    anything but a 200 with every result counts as a failure."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for address in itertools.cycle(addresses):
        if stop.is_set():
            return
        connection = http.client.HTTPConnection(address, RISK_PORT, timeout=REQUEST_TIMEOUT_S)
        failure = ""
        version = ""
        try:
            connection.request("POST", "/v1/score", body=body, headers=headers)
            answer = connection.getresponse()
            payload = answer.read()
            if answer.status != 200:
                failure = f"{address}: HTTP {answer.status} {payload[:200]!r}"
            else:
                document = json.loads(payload)
                version = document["model_version"]
                if len(document["results"]) != SCORE_BATCH:
                    failure = f"{address}: {len(document['results'])} results for {SCORE_BATCH}"
        except (OSError, http.client.HTTPException, ValueError) as error:
            failure = f"{address}: {type(error).__name__}: {error}"
        finally:
            connection.close()
        with tally.lock:
            if failure:
                tally.failures.append(failure)
            else:
                tally.ok += 1
                tally.versions[version] += 1


def model_version(model_dir: Path) -> str:
    return str(json.loads((model_dir / "metadata.json").read_text())["version"])


def test_a_new_model_rolls_out_without_failing_a_request(cluster: Cluster) -> None:
    old, new = model_version(cluster.first_model), model_version(cluster.second_model)
    assert old != new
    addresses = [cluster.addresses[host] for host in cluster.groups["risk_service"]]
    tally = RequestTally()
    stop = threading.Event()
    body = score_body()
    threads = [
        threading.Thread(
            target=fire,
            args=(addresses[i:] + addresses[:i], cluster.token, body, stop, tally),
            daemon=True,
        )
        for i in range(LOAD_THREADS)
    ]
    for thread in threads:
        thread.start()
    try:
        _, rollout_s = playbook(
            cluster,
            "playbooks/rollout-model.yml",
            "-e",
            f"pipeline_model_dir={cluster.second_model}",
        )
        time.sleep(3)  # keep firing at the new model for a moment
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT_S + 5)
    assert not tally.failures, f"{len(tally.failures)} failed requests: {tally.failures[:5]}"
    assert tally.versions[old] > 0
    assert tally.versions[new] > 0
    for address in addresses:
        connection = http.client.HTTPConnection(address, RISK_PORT, timeout=REQUEST_TIMEOUT_S)
        connection.request("GET", "/healthz")
        assert json.loads(connection.getresponse().read())["model_version"] == new
        connection.close()
    FIGURES["model rollout"] = (
        f"{len(addresses)} nodes in {rollout_s:.0f} s under load: {tally.ok} requests of "
        f"{SCORE_BATCH} applicants answered, 0 failed, versions {dict(tally.versions)}"
    )
