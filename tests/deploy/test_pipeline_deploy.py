"""playbooks/pipeline.yml on the simulated cluster: MariaDB, the applicant API and the risk service
deploy from bare nodes (after site.yml's common play) with secrets from a fresh Ansible Vault, a
second run changes nothing, the loader fills MariaDB, the testinfra checks of those roles pass, and
a new model rolls out node by node (playbooks/rollout-model.yml) while requests keep arriving
without one failing. Prints the timings and request counts; asserts no time.

The producer is left out here: it needs Kafka, which site.yml deploys (the lead's full-cluster
test covers it). Layout: LENDSTREAM_DEPLOY_LAYOUT (default ci)."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lendstream import secrets
from lendstream.cluster import Layout, load_cluster
from lendstream.deploy import wheelhouse
from lendstream.vcluster import lifecycle, nodes
from lendstream.vcluster.paths import inventory_path, layout_state_dir

# Boots, deploys, rolls out and tears down: longer than the suite's per-test default.
pytestmark = [pytest.mark.vcluster, pytest.mark.slow, pytest.mark.timeout(3600)]

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPOSITORY_ROOT / "ansible"
BIN_DIR = Path(sys.executable).parent
LAYOUT = os.environ.get("LENDSTREAM_DEPLOY_LAYOUT", "ci")
PLAYBOOK_TIMEOUT_S = 1500
PIPELINE_HOSTS = "mysql:applicant_api:risk_service"
NO_PRODUCER = ["--skip-tags", "producer", "--limit", f"localhost:{PIPELINE_HOSTS}"]
INFRA_TESTS = [
    "tests/infra/test_infra_mysql.py",
    "tests/infra/test_infra_applicant_api.py",
    "tests/infra/test_infra_risk_service.py",
]
RISK_PORT = 8090
REQUEST_TIMEOUT_S = 15.0
LOAD_THREADS = 4
BATCH = 10


@dataclass
class Deployment:
    layout: Layout
    environment: dict[str, str]
    token: str
    risk_hosts: list[str]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    layout = load_cluster().layout(LAYOUT)
    running = [n.name for n in layout.nodes if nodes.launcher_pid(layout, n) is not None]
    if running:
        pytest.fail(
            f"layout {layout.name} is already running ({', '.join(running)}); this test deploys "
            f"from bare nodes and tears them down: python -m lendstream.vcluster down --layout "
            f"{layout.name}"
        )
    inventory_dir = layout_state_dir(layout.name)
    password_file = tmp_path_factory.mktemp("vault") / "vault.pass"
    lifecycle.up(layout)
    try:
        secrets.new_secrets(inventory_dir, password_file)
        values = secrets.read_vault(inventory_dir, password_file)
        environment = dict(
            os.environ,
            PATH=f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
            ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
            ANSIBLE_VAULT_PASSWORD_FILE=str(password_file),
            NO_COLOR="1",
        )
        addresses = {node.name: str(node.address) for node in layout.nodes}
        yield Deployment(
            layout=layout,
            environment=environment,
            token=values["vault_risk_service_token"],
            risk_hosts=[addresses[name] for name in layout.groups()["risk_service"]],
        )
    finally:
        lifecycle.down(layout)
        secrets.vault_file(inventory_dir).unlink(missing_ok=True)


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


def _run(
    deployment: Deployment, argv: list[str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=deployment.environment,
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT_S,
        check=False,
    )
    return result, time.monotonic() - started


def _playbook(deployment: Deployment, playbook: str, *extra: str) -> tuple[str, float]:
    inventory = str(inventory_path(deployment.layout.name))
    # Built here once, so that every play that validates app_venv's or topology's arguments
    # (tagged always) finds it, whatever the tags of the run.
    wheelhouse_dir = f"lendstream_wheelhouse_dir={wheelhouse.build()[0].directory}"
    result, elapsed = _run(
        deployment,
        [
            str(BIN_DIR / "ansible-playbook"),
            *("-i", inventory, "-e", wheelhouse_dir, playbook, *extra),
        ],
        ANSIBLE_DIR,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return result.stdout, elapsed


def _changed_per_host(recap_output: str) -> dict[str, int]:
    return {
        host: int(changed)
        for host, changed in re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", recap_output, re.M)
    }


def _version(model_dir: Path) -> str:
    return str(json.loads((model_dir / "metadata.json").read_text())["version"])


@dataclass
class LoadFigures:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    versions: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _score_body() -> bytes:
    from lendstream.model.synthetic import generate  # noqa: PLC0415
    from lendstream.pipeline.rules import InvalidApplicant, clean  # noqa: PLC0415

    applicants = []
    for raw in generate(BATCH * 3, seed=5):
        try:
            applicants.append(clean(raw).as_dict())
        except InvalidApplicant:
            continue
    return json.dumps({"applicants": applicants[:BATCH]}).encode()


def _fire(
    hosts: list[str], token: str, body: bytes, stop: threading.Event, load: LoadFigures
) -> None:
    """POST batches round-robin over the nodes until told to stop, each on a new connection,
    counting answers that are not a 200 with every result as a failure."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for host in itertools.cycle(hosts):
        if stop.is_set():
            return
        connection = http.client.HTTPConnection(host, RISK_PORT, timeout=REQUEST_TIMEOUT_S)
        try:
            connection.request("POST", "/v1/score", body=body, headers=headers)
            answer = connection.getresponse()
            payload = answer.read()
            if answer.status != 200:
                outcome = f"{host}: HTTP {answer.status} {payload[:200]!r}"
            else:
                document = json.loads(payload)
                outcome = document["model_version"]
                if len(document["results"]) != BATCH:
                    outcome = f"{host}: {len(document['results'])} results for {BATCH}"
        except (OSError, http.client.HTTPException, ValueError) as error:
            outcome = f"{host}: {type(error).__name__}: {error}"
        finally:
            connection.close()
        with load.lock:
            if outcome.startswith(f"{host}:"):
                load.failures.append(outcome)
            else:
                load.ok += 1
                load.versions[outcome] += 1


def test_pipeline_deploys_reruns_unchanged_and_rolls_a_model_out_without_failing_requests(
    deployment: Deployment, two_models: tuple[Path, Path]
) -> None:
    first_model, second_model = two_models
    assert _version(first_model) != _version(second_model)
    _, common_s = _playbook(deployment, "site.yml", "--tags", "common", "--limit", PIPELINE_HOSTS)
    model_v1 = ["-e", f"pipeline_model_dir={first_model}"]
    first, first_s = _playbook(deployment, "playbooks/pipeline.yml", *NO_PRODUCER, *model_v1)
    assert sum(_changed_per_host(first).values()) > 0
    second, second_s = _playbook(deployment, "playbooks/pipeline.yml", *NO_PRODUCER, *model_v1)
    changed = _changed_per_host(second)
    groups = deployment.layout.groups()
    pipeline_nodes = {host for group in PIPELINE_HOSTS.split(":") for host in groups[group]}
    assert pipeline_nodes <= set(changed)
    assert not any(changed.values()), f"second run changed something: {changed}"

    loaded, load_s = _playbook(
        deployment, "playbooks/load-applicants.yml", "-e", "load_applicants_synthetic=1000"
    )
    assert '"table_rows": 10857' in loaded

    infra, infra_s = _run(
        deployment,
        [
            str(BIN_DIR / "pytest"),
            *INFRA_TESTS,
            "--hosts=ansible://all",
            f"--ansible-inventory={inventory_path(deployment.layout.name)}",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        REPOSITORY_ROOT,
    )
    assert infra.returncode == 0, infra.stdout[-6000:]

    load = LoadFigures()
    stop = threading.Event()
    body = _score_body()
    threads = [
        threading.Thread(
            target=_fire,
            args=(deployment.risk_hosts[i:] + deployment.risk_hosts[:i], deployment.token, body),
            kwargs={"stop": stop, "load": load},
            daemon=True,
        )
        for i in range(LOAD_THREADS)
    ]
    for thread in threads:
        thread.start()
    try:
        rollout, rollout_s = _playbook(
            deployment, "playbooks/rollout-model.yml", "-e", f"pipeline_model_dir={second_model}"
        )
        time.sleep(3)  # keep firing at the new model for a moment
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT_S + 5)
    assert "failed=0" in rollout
    assert not load.failures, f"{len(load.failures)} failed requests: {load.failures[:5]}"
    assert load.versions[_version(first_model)] > 0
    assert load.versions[_version(second_model)] > 0
    for host in deployment.risk_hosts:
        connection = http.client.HTTPConnection(host, RISK_PORT, timeout=REQUEST_TIMEOUT_S)
        connection.request("GET", "/healthz")
        assert json.loads(connection.getresponse().read())["model_version"] == _version(
            second_model
        )
        connection.close()
    print(
        f"\npipeline.yml (mysql, applicant_api, risk_service) on {deployment.layout.name}: "
        f"common {common_s:.0f} s, first run {first_s:.0f} s, second run {second_s:.0f} s "
        f"(changed=0), load {load_s:.0f} s, testinfra {infra_s:.0f} s; model rollout over "
        f"{len(deployment.risk_hosts)} nodes {rollout_s:.0f} s under load: {load.ok} requests "
        f"of {BATCH} applicants answered, 0 failed, versions {dict(load.versions)}"
    )
