"""A bad model push, made on a risk-service node by the risk-bad-model-push fault.

The artifact it writes loads and serves ``/healthz`` like a good one, and fails every prediction.
Its preprocessing is the serving model's, but its classifier expects more columns than that
preprocessing gives (``EXTRA_COLUMNS``). That happens when a classifier retrained with one more
categorical feature (``addr_state`` one-hot is about 50 columns) is packed with the previous
preprocessing. Its SHA-256 and its input names match its metadata, so
:func:`lendstream.model.artifact.load`, the service's start and ``/healthz`` all accept it. Every
``predict_proba`` then raises ``ValueError`` and the service answers 500. The rollout's gate
scores a probe applicant after ``/healthz`` (the risk_service role's tasks/health.yml), so
playbooks/rollout-model.yml refuses it on its first node and rolls that node back
(tests/cluster/test_cluster_deploy.py pushes one through it); this fault puts it in place
without the playbook. The classifier is fitted on generated numbers (the node has no training
rows): only its width matters.

It runs on the node as a script: the fault sends this file's text to the node's virtualenv Python
(``python -c <text> <model root> <suffix>``). So it imports only what that virtualenv has, and
nothing of ``lendstream.chaos`` (importing it on the controller is not needed either). It writes
``<root>/<version>-<suffix>/`` beside the serving artifact, points ``current`` at it
(:func:`lendstream.model.artifact.save`) and prints ``{"good": …, "bad": …}``. The service keeps
the model it loaded until it is reloaded. It refuses to push over an artifact it made itself, so a
second injection cannot take a bad model for the good one.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from lendstream.model import artifact
from lendstream.model.features import features_frame

EXTRA_COLUMNS = 50
SEED = 13


def mismatched(pipeline: Any) -> Pipeline:
    """The fitted pipeline's first step (its preprocessing) followed by a classifier fitted on
    EXTRA_COLUMNS more columns than the fitted classifier's."""
    (first_name, preprocessing), (last_name, classifier) = pipeline.steps[0], pipeline.steps[-1]
    width = int(classifier.n_features_in_) + EXTRA_COLUMNS
    rows = 2 * width
    generated = np.random.default_rng(SEED).standard_normal((rows, width))
    labels = np.arange(rows) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # generated numbers: how well it fits does not matter
        wider = LogisticRegression(max_iter=200).fit(generated, labels)
    return Pipeline([(first_name, preprocessing), (last_name, wider)])


def predicts(model: artifact.LoadedModel) -> bool:
    """Whether the model scores one applicant whose every feature is unknown (null)."""
    unknown = features_frame([dict.fromkeys(model.features)], model.features)
    try:
        model.pipeline.predict_proba(unknown)
    except ValueError:
        return False
    return True


def push(root: Path, suffix: str) -> dict[str, str]:
    """Write the bad artifact (version: the serving one's, ``-suffix``) beside ``root/current``
    and point ``current`` at it."""
    good = artifact.load(root / artifact.CURRENT_LINK)
    if good.version.endswith(f"-{suffix}"):
        raise SystemExit(f"{root}/current is already a bad push ({good.version}): heal it first")
    if not predicts(good):
        raise SystemExit(f"the serving model {good.version} cannot score either")
    bad_version = f"{good.version}-{suffix}"
    metadata = {**good.metadata, "version": bad_version}
    artifact.save(mismatched(good.pipeline), metadata, root=root)
    bad = artifact.load(root / artifact.CURRENT_LINK)  # what the service will load: it must
    if bad.version != bad_version or predicts(bad):
        raise SystemExit(f"{bad_version} came out loadable and scoring: not a bad push")
    return {"good": good.version, "bad": bad_version}


if __name__ == "__main__":
    print(json.dumps(push(Path(sys.argv[1]), sys.argv[2])))
