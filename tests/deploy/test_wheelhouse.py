"""The controller's wheelhouse builder: what the digest covers, the lock it writes, a real
``pip wheel`` of a tiny project (reused while nothing changed, rebuilt when a source changed),
and a dependency archive whose bytes depend only on the wheels."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from lendstream.deploy import wheelhouse

TINY_PYPROJECT = """
[build-system]
requires = ["setuptools>=75,<82", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "lendstream"
version = "0.0.1"
requires-python = ">=3.11"
dependencies = []

[tool.setuptools]
packages = ["lendstream", "lendstream.model"]

[tool.setuptools.package-dir]
"lendstream" = "lendstream"
"lendstream.model" = "model"
"""


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    """A distribution named lendstream with one mapped subpackage, and nothing else."""
    project = tmp_path / "project"
    (project / "lendstream").mkdir(parents=True)
    (project / "model").mkdir()
    (project / "pyproject.toml").write_text(TINY_PYPROJECT)
    (project / "lendstream" / "__init__.py").write_text("VALUE = 1\n")
    (project / "model" / "__init__.py").write_text("")
    (project / "unrelated.txt").write_text("not part of the distribution\n")
    return project


def test_package_directories_follow_the_package_dir_mapping(tiny_project: Path) -> None:
    assert wheelhouse.package_directories(tiny_project) == [
        tiny_project / "lendstream",
        tiny_project / "model",
    ]


def test_package_directories_of_this_repository_cover_the_mapped_packages() -> None:
    root = Path(__file__).resolve().parents[2]
    found = wheelhouse.package_directories(root)
    for expected in ("lendstream", "model", "services", "topology/pipeline"):
        assert root / expected in found


def test_digest_follows_sources_and_pyproject_only(tiny_project: Path) -> None:
    digest = wheelhouse.source_digest(tiny_project)
    (tiny_project / "unrelated.txt").write_text("changed\n")
    (tiny_project / "lendstream" / "__pycache__").mkdir()
    (tiny_project / "lendstream" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert wheelhouse.source_digest(tiny_project) == digest
    (tiny_project / "model" / "__init__.py").write_text("# changed\n")
    changed_source = wheelhouse.source_digest(tiny_project)
    assert changed_source != digest
    (tiny_project / "pyproject.toml").write_text(TINY_PYPROJECT + "\n# comment\n")
    assert wheelhouse.source_digest(tiny_project) != changed_source


def test_requirement_lines_normalise_names_as_pip_does() -> None:
    assert wheelhouse.requirement_lines(
        [
            "scikit_learn-1.9.1-cp311-cp311-manylinux_2_27_x86_64.whl",
            "Fabric39-1.15.3.post2-py3-none-any.whl",
            "kafka_python-3.0.12-py3-none-any.whl",
        ]
    ) == ["fabric39==1.15.3.post2", "kafka-python==3.0.12", "scikit-learn==1.9.1"]


def test_requirement_lines_refuse_a_non_wheel() -> None:
    with pytest.raises(wheelhouse.WheelhouseError):
        wheelhouse.requirement_lines(["lendstream-0.1.0.tar.gz"])


def test_dependency_archive_bytes_depend_only_on_the_wheels(tmp_path: Path) -> None:
    digests = []
    for attempt, mtime in enumerate((1_000_000, 2_000_000)):
        directory = tmp_path / f"attempt{attempt}"
        directory.mkdir()
        for name in ("b-1.0-py3-none-any.whl", "a-2.0-py3-none-any.whl"):
            wheel = directory / name
            wheel.write_bytes(name.encode() * 100)
            os.utime(wheel, (mtime, mtime))
        archive = wheelhouse.write_dependencies_archive(
            directory, ["b-1.0-py3-none-any.whl", "a-2.0-py3-none-any.whl"]
        )
        assert sorted(path.name for path in directory.iterdir()) == ["dependencies.tar"]
        with tarfile.open(archive) as tar:
            assert tar.getnames() == ["a-2.0-py3-none-any.whl", "b-1.0-py3-none-any.whl"]
        digests.append(hashlib.sha256(archive.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_build_wheels_once_and_again_only_after_a_change(
    tiny_project: Path, tmp_path: Path
) -> None:
    root = tmp_path / "wheelhouses"
    first, built = wheelhouse.build(tiny_project, root)
    assert built
    assert first.directory == root / wheelhouse.source_digest(tiny_project)
    assert first.distribution_wheel.startswith("lendstream-0.0.1-")
    with zipfile.ZipFile(first.directory / first.distribution_wheel) as wheel:
        assert "lendstream/model/__init__.py" in wheel.namelist()
    assert first.requirements.read_text() == "lendstream==0.0.1\n"
    stamp = json.loads(first.stamp.read_text())
    assert stamp["digest"] == first.digest
    assert stamp["python_tag"] == wheelhouse.python_tag()
    with tarfile.open(first.dependencies_archive) as tar:
        assert tar.getnames() == []  # no dependencies

    again, built_again = wheelhouse.build(tiny_project, root)
    assert not built_again
    assert again == first

    (tiny_project / "lendstream" / "__init__.py").write_text("VALUE = 2\n")
    changed, built_changed = wheelhouse.build(tiny_project, root)
    assert built_changed
    assert changed.directory != first.directory
    assert not any(path.name.startswith(".") for path in root.iterdir())  # no staging left


def test_load_refuses_a_damaged_wheelhouse(tiny_project: Path, tmp_path: Path) -> None:
    built, _ = wheelhouse.build(tiny_project, tmp_path / "wheelhouses")
    assert wheelhouse.load(built.directory) == built
    built.dependencies_archive.unlink()
    assert wheelhouse.load(built.directory) is None


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    for age, name in enumerate(("newest", "middle", "oldest")):
        directory = tmp_path / name
        directory.mkdir()
        stamp = directory / wheelhouse.STAMP_NAME
        stamp.write_text("{}")
        os.utime(stamp, (1_000_000 - age * 10, 1_000_000 - age * 10))
    (tmp_path / ".staging").mkdir()
    removed = wheelhouse.prune(tmp_path, keep=2)
    assert [path.name for path in removed] == ["oldest"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [".staging", "middle", "newest"]
