"""One model artifact per session, trained by the same command `make model` runs."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from lendstream.model.__main__ import main


@pytest.fixture(scope="session")
def artifact_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model")


@pytest.fixture(scope="session")
def training_summary(artifact_root: Path) -> dict[str, Any]:
    """Train with the shipped configuration; the CLI's JSON summary."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["train", "--out", str(artifact_root)]) == 0
    return json.loads(printed.getvalue())


@pytest.fixture(scope="session")
def artifact_dir(training_summary: dict[str, Any]) -> Path:
    return Path(training_summary["artifact"])
