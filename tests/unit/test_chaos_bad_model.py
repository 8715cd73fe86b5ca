"""The risk-bad-model-push fault's pieces on a real artifact (the session's trained model): the
script the fault runs on each node, sent through a shell as there, and the healing's shell."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lendstream
from lendstream.chaos import bad_model, faults
from lendstream.chaos.cluster import ChaosError
from lendstream.model import artifact
from lendstream.model.data import lending_club_raw_records
from lendstream.pipeline.rules import InvalidApplicant, clean
from lendstream.services.risk_service.app import create_app
from lendstream.services.risk_service.settings import RiskSettings, ThresholdOverrides

RELOADED = "reloaded"


def node_root(model_dir: Path, root: Path) -> Path:
    """A node's model root: the session's artifact under its version, ``current`` naming it."""
    root.mkdir()
    shutil.copytree(model_dir, root / model_dir.name)
    (root / artifact.CURRENT_LINK).symlink_to(model_dir.name)
    return root


def sh(command: str) -> subprocess.CompletedProcess[str]:
    """``command`` through ``sh -c`` as the fault's SSH runs it, with this checkout's lendstream
    importable (the node's virtualenv has its own)."""
    checkout = Path(lendstream.__file__).resolve().parent.parent
    environment = {**os.environ, "PYTHONPATH": str(checkout)}
    return subprocess.run(
        ["sh", "-c", command],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def pushed(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A node's model root after the fault's push command (the script run by a Python of its
    own, as on a node, then the reload, here an echo)."""
    root = node_root(model_dir, tmp_path_factory.mktemp("pushed") / "model")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(faults, "NODE_PYTHON", sys.executable)
        done = sh(faults.push_bad_model_command(str(root), f"echo {RELOADED}"))
    return root, done


def test_the_pushed_model_loads_like_a_good_one_and_cannot_predict(
    pushed: tuple[Path, subprocess.CompletedProcess[str]], model_dir: Path
) -> None:
    root, done = pushed
    assert done.returncode == 0, done.stderr
    versions_line, reloaded = done.stdout.splitlines()
    good = artifact.load(model_dir)
    bad_version = f"{good.version}-{faults.BAD_MODEL_SUFFIX}"
    assert json.loads(versions_line) == {"good": good.version, "bad": bad_version}
    assert reloaded == RELOADED
    assert os.readlink(root / artifact.CURRENT_LINK) == bad_version
    # Everything the service checks at start passes: the SHA-256, the input names, thresholds.
    bad = artifact.load(root / artifact.CURRENT_LINK)
    assert bad.features == good.features
    assert bad.metadata["thresholds"] == good.metadata["thresholds"]
    assert bad.metadata["model_sha256"] != good.metadata["model_sha256"]
    applicant = [dict.fromkeys(bad.features)]  # every feature unknown: imputed
    with pytest.raises(ValueError, match="features"):
        bad.predict_default_probability(applicant)
    assert len(good.predict_default_probability(applicant)) == 1
    # The serving artifact is left as it was.
    assert artifact.load(root / good.version).metadata == good.metadata


def test_the_service_starts_on_it_and_answers_500_counted_for_the_alert(
    pushed: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The risk service's app (in process: the gunicorn-served one runs on ci in the fault) over
    the pushed model: /healthz names it, each scoring request is a 500 that /metrics counts on
    /v1/score, what RiskServiceErrors reads."""
    root, _ = pushed
    token = "chaos-test-token"
    settings = RiskSettings(
        model_dir=root / artifact.CURRENT_LINK,
        tokens=(token,),
        thresholds=ThresholdOverrides(review_at=None, decline_at=None),
    )
    client = create_app(settings).test_client()
    bad = artifact.load(root / artifact.CURRENT_LINK)
    labels = 'route="/v1/score",status="500"'
    before = served_500s(client.get("/metrics").get_data(as_text=True), labels)
    health = client.get("/healthz")
    body = {"applicants": applicants(5)}
    answers = [
        client.post("/v1/score", json=body, headers={"Authorization": f"Bearer {token}"})
        for _ in range(3)
    ]
    after = served_500s(client.get("/metrics").get_data(as_text=True), labels)
    assert health.status_code == 200
    assert health.get_json()["model_version"] == bad.version
    assert [answer.status_code for answer in answers] == [500] * 3
    assert answers[0].get_json() == {"error": "internal error (ValueError); see the service log"}
    assert after - before == 3


def applicants(count: int) -> list[dict[str, object]]:
    """Clean applicants from the training rows, as the score bolts send them."""
    cleaned: list[dict[str, object]] = []
    for raw in lending_club_raw_records():
        try:
            cleaned.append(clean(raw).as_dict())
        except InvalidApplicant:
            continue
        if len(cleaned) == count:
            break
    return cleaned


def served_500s(metrics: str, labels: str) -> float:
    match = re.search(
        rf"^lendstream_risk_requests_total\{{{re.escape(labels)}\}} (\S+)$", metrics, re.M
    )
    return float(match.group(1)) if match else 0.0


def test_a_second_push_over_a_bad_one_is_refused(
    pushed: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _ = pushed
    before = sorted(path.name for path in root.iterdir())
    with pytest.raises(SystemExit, match="already a bad push"):
        bad_model.push(root, faults.BAD_MODEL_SUFFIX)
    assert sorted(path.name for path in root.iterdir()) == before


@pytest.fixture
def bad_push_root(model_dir: Path, tmp_path: Path) -> Path:
    """A root as the push leaves it (the bad artifact's files do not matter to the healing)."""
    root = node_root(model_dir, tmp_path / "model")
    bad_version = f"{model_dir.name}-{faults.BAD_MODEL_SUFFIX}"
    shutil.copytree(model_dir, root / bad_version)
    (root / artifact.CURRENT_LINK).unlink()
    (root / artifact.CURRENT_LINK).symlink_to(bad_version)
    return root


def test_healing_points_current_back_reloads_once_and_removes_the_push(
    bad_push_root: Path, model_dir: Path
) -> None:
    heal = faults.restore_model_command(str(bad_push_root), f"echo {RELOADED}")
    first = sh(heal)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == [RELOADED]
    assert os.readlink(bad_push_root / artifact.CURRENT_LINK) == model_dir.name
    assert sorted(path.name for path in bad_push_root.iterdir()) == [
        artifact.CURRENT_LINK,
        model_dir.name,
    ]
    # Healed again (or a node the push never reached): nothing to do, no reload.
    second = sh(heal)
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""
    assert os.readlink(bad_push_root / artifact.CURRENT_LINK) == model_dir.name


def test_a_failed_reload_fails_the_healing(bad_push_root: Path) -> None:
    assert sh(faults.restore_model_command(str(bad_push_root), "false")).returncode != 0


def test_every_host_is_tried_before_the_first_failure_is_raised() -> None:
    tried: list[str] = []

    def step(host: str) -> None:
        tried.append(host)
        if host != "m2":
            raise ChaosError(f"{host} failed")

    with pytest.raises(ChaosError, match="m1 failed"):
        faults.on_each(["m1", "m2", "m3"], step)
    assert sorted(tried) == ["m1", "m2", "m3"]
