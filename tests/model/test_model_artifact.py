"""Artifacts: written whole, pointed to by `current`, loaded back only when their hash matches."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lendstream.model import artifact
from lendstream.model.artifact import ArtifactError
from lendstream.model.data import lending_club_raw_records
from lendstream.model.features import FEATURES
from lendstream.pipeline.rules import clean

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def copied_artifact(artifact_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / artifact_dir.name
    shutil.copytree(artifact_dir, copy)
    return copy


def clean_batch(count: int) -> list[dict[str, Any]]:
    return [clean(record).as_dict() for record in lending_club_raw_records()[:count]]


def test_current_points_at_the_new_artifact(artifact_root: Path, artifact_dir: Path) -> None:
    current = artifact_root / artifact.CURRENT_LINK
    assert current.is_symlink()
    assert current.resolve() == artifact_dir.resolve()
    assert artifact.load(current).version == artifact_dir.name


def test_metadata_records_what_was_trained(artifact_dir: Path) -> None:
    metadata = json.loads((artifact_dir / artifact.METADATA_FILE).read_text())
    assert metadata["version"] == artifact_dir.name
    assert tuple(metadata["features"]) == FEATURES
    assert len(metadata["training_data"]["sha256"]) == 64
    assert metadata["versions"]["scikit-learn"]
    assert metadata["created_at"]
    assert 0.0 < metadata["thresholds"]["review"] < metadata["thresholds"]["decline"] < 1.0
    assert metadata["model_sha256"] == artifact.file_sha256(artifact_dir / artifact.MODEL_FILE)


def test_report_has_both_figures_and_the_held_out_auc(artifact_dir: Path) -> None:
    report = artifact_dir / artifact.REPORT_DIR
    for figure in ("roc.png", "calibration.png"):
        assert (report / figure).read_bytes().startswith(PNG_SIGNATURE)
    text = (report / "report.md").read_text()
    auc = json.loads((artifact_dir / artifact.METADATA_FILE).read_text())["metrics"]["held_out"][
        "model"
    ]["roc_auc"]
    assert f"{auc:.4f}" in text
    assert "![ROC curves](roc.png)" in text


def test_round_trip_scores_a_batch_in_order(artifact_dir: Path) -> None:
    loaded = artifact.load(artifact_dir)
    batch = clean_batch(300)
    probabilities = loaded.predict_default_probability(batch)
    assert probabilities.shape == (300,)
    assert np.all((probabilities > 0) & (probabilities < 1))
    one_by_one = [loaded.predict_default_probability([record])[0] for record in batch[:20]]
    np.testing.assert_allclose(probabilities[:20], one_by_one, rtol=1e-12)
    assert loaded.predict_default_probability([]).shape == (0,)


def test_a_tampered_model_is_refused(copied_artifact: Path) -> None:
    model = copied_artifact / artifact.MODEL_FILE
    content = bytearray(model.read_bytes())
    content[len(content) // 2] ^= 0xFF
    model.write_bytes(bytes(content))
    with pytest.raises(ArtifactError, match="altered"):
        artifact.load(copied_artifact)


def test_a_model_from_another_artifact_is_refused(copied_artifact: Path) -> None:
    metadata_path = copied_artifact / artifact.METADATA_FILE
    metadata = json.loads(metadata_path.read_text())
    metadata["model_sha256"] = "0" * 64
    metadata_path.write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="altered"):
        artifact.load(copied_artifact)


def test_metadata_listing_other_features_is_refused(copied_artifact: Path) -> None:
    metadata_path = copied_artifact / artifact.METADATA_FILE
    metadata = json.loads(metadata_path.read_text())
    metadata["features"] = [*metadata["features"], "dti"]
    metadata_path.write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="fitted on"):
        artifact.load(copied_artifact)


def test_missing_files_are_refused(copied_artifact: Path, tmp_path: Path) -> None:
    (copied_artifact / artifact.MODEL_FILE).unlink()
    with pytest.raises(ArtifactError, match="missing"):
        artifact.load(copied_artifact)
    with pytest.raises(ArtifactError, match="missing"):
        artifact.load(tmp_path / "nothing-here")


def test_saving_again_replaces_the_same_version(artifact_dir: Path, tmp_path: Path) -> None:
    loaded = artifact.load(artifact_dir)
    metadata = {key: value for key, value in loaded.metadata.items() if key != "model_sha256"}
    first = artifact.save(loaded.pipeline, metadata, root=tmp_path)
    second = artifact.save(loaded.pipeline, metadata, root=tmp_path)
    assert first == second
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        artifact.CURRENT_LINK,
        loaded.version,
    ]
    assert artifact.load(tmp_path / artifact.CURRENT_LINK).version == loaded.version
