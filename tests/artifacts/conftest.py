"""Fixtures for the artifact-bundle tests: real bundles from the shared cache and JVM processes
that are always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bundle_processes import JavaProcess

from lendstream.stack.artifacts import bundle_path


@pytest.fixture
def start_java(tmp_path: Path) -> Iterator[object]:
    started: list[JavaProcess] = []

    def start(command: list[str], name: str, env: dict[str, str] | None = None) -> JavaProcess:
        process = JavaProcess(command, tmp_path / f"{name}.out", tmp_path, env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def bundle() -> object:
    """``bundle(name)``: the component's bundle directory, built into the cache if missing."""
    return bundle_path
