"""Versioned model artifacts: write one, point ``current`` at it, load it back hash-checked.

Layout (``.cache/model/`` of the checkout unless ``LENDSTREAM_MODEL_ROOT`` says otherwise)::

    .cache/model/<version>/model.joblib     the fitted scikit-learn pipeline
    .cache/model/<version>/metadata.json    version, features, metrics, thresholds, hashes
    .cache/model/<version>/report/          report.md, roc.png, calibration.png
    .cache/model/current -> <version>       symlink to the newest artifact

``model.joblib`` is a pickle, so :func:`load` refuses it unless its SHA-256 matches
``metadata.json`` — a swapped or corrupted file is never unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from lendstream.model.features import FeatureProblem, feature_problems, features_frame

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
REPORT_DIR = "report"
CURRENT_LINK = "current"
MODEL_ROOT_ENV = "LENDSTREAM_MODEL_ROOT"
_HASH_CHUNK = 1 << 20


class ArtifactError(RuntimeError):
    """An artifact that is missing, incomplete or does not match its recorded hash."""


def default_model_root() -> Path:
    """Where artifacts live: ``$LENDSTREAM_MODEL_ROOT``, else ``.cache/model`` of this checkout."""
    configured = os.environ.get(MODEL_ROOT_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / ".cache" / "model"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedModel:
    """A verified artifact, ready to score batches of clean applicants."""

    version: str
    features: tuple[str, ...]
    metadata: Mapping[str, Any]
    directory: Path
    pipeline: Any = field(repr=False)

    def feature_problems(self, record: Any) -> list[FeatureProblem]:
        """What is wrong with one clean applicant for this model (empty: it can be scored)."""
        return feature_problems(record, self.features)

    def predict_default_probability(self, clean_records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Probability of default of each clean applicant (``CleanApplicant.as_dict()``), in order.

        Builds one frame for the whole batch; check records with :meth:`feature_problems` first.
        """
        if len(clean_records) == 0:
            return np.empty(0, dtype=np.float64)
        frame = features_frame(clean_records, self.features)
        return np.asarray(self.pipeline.predict_proba(frame)[:, 1], dtype=np.float64)


def load(directory: str | os.PathLike[str] | None = None) -> LoadedModel:
    """Load and verify an artifact (default: ``current`` under :func:`default_model_root`).

    Raises :class:`ArtifactError` when a file is missing, the model's SHA-256 differs from the one
    in ``metadata.json``, or the fitted pipeline's inputs differ from the recorded features.
    """
    path = Path(directory) if directory is not None else default_model_root() / CURRENT_LINK
    path = path.resolve()
    metadata_path = path / METADATA_FILE
    model_path = path / MODEL_FILE
    for required in (metadata_path, model_path):
        if not required.is_file():
            raise ArtifactError(
                f"{required} is missing: train with `python -m lendstream.model train`"
            )
    try:
        metadata = json.loads(metadata_path.read_text())
        expected_sha256 = metadata["model_sha256"]
        version = metadata["version"]
        features = tuple(metadata["features"])
    except (ValueError, KeyError, TypeError) as error:
        raise ArtifactError(f"{metadata_path} is not valid artifact metadata: {error}") from None
    actual_sha256 = file_sha256(model_path)
    if actual_sha256 != expected_sha256:
        raise ArtifactError(
            f"{model_path} has SHA-256 {actual_sha256}, but {metadata_path} records "
            f"{expected_sha256}: the artifact was altered; retrain or restore it"
        )
    pipeline = joblib.load(model_path)
    fitted_inputs = tuple(getattr(pipeline, "feature_names_in_", ()))
    if fitted_inputs != features:
        raise ArtifactError(
            f"{model_path} was fitted on {fitted_inputs}, but {metadata_path} lists {features}"
        )
    return LoadedModel(
        version=version, features=features, metadata=metadata, directory=path, pipeline=pipeline
    )


def save(
    pipeline: Any,
    metadata: Mapping[str, Any],
    write_report: Callable[[Path], None] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Path:
    """Write an artifact under ``root`` as ``metadata["version"]`` and point ``current`` at it.

    The directory is assembled beside its final place and renamed into it, so a reader never sees
    half an artifact; an artifact of the same version (same data, code and seed) is replaced.
    """
    root_path = Path(root) if root is not None else default_model_root()
    root_path.mkdir(parents=True, exist_ok=True)
    version = str(metadata["version"])
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=root_path))
    try:
        joblib.dump(pipeline, staging / MODEL_FILE)
        complete = {**metadata, "model_sha256": file_sha256(staging / MODEL_FILE)}
        (staging / METADATA_FILE).write_text(json.dumps(complete, indent=2, sort_keys=True) + "\n")
        if write_report is not None:
            report = staging / REPORT_DIR
            report.mkdir()
            write_report(report)
        staging.chmod(0o755)
        final = root_path / version
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    point_current_at(root_path, version)
    return final


def point_current_at(root: Path, version: str) -> None:
    """Atomically repoint the ``current`` symlink to ``root/version``."""
    temporary = root / f".{CURRENT_LINK}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(version)
    temporary.replace(root / CURRENT_LINK)
