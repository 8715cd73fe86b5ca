"""The wheelhouse the cluster's virtualenvs install from: built on the controller, offline on nodes.

    python -m lendstream.deploy.wheelhouse build [--json]   # build (or reuse) it; print its dir
    python -m lendstream.deploy.wheelhouse digest           # the source digest only

A wheelhouse holds the wheel of the ``lendstream`` distribution, ``dependencies.tar`` (the wheels
of every dependency, ``pip wheel`` from this checkout's pinned ``pyproject.toml``, in one
reproducible archive: the same wheels make the same bytes, so a node that has it is not sent it
again, and one file crosses the network rather than seventy), ``requirements.txt`` (each wheel as
``name==version``: the lock the nodes install with ``--no-index``) and ``wheelhouse.json`` (the
stamp: source digest, Python tag, wheel names and their SHA-256). It lives in
``$LENDSTREAM_CACHE_DIR/wheelhouse/<digest>/`` (default cache ``~/.cache/lendstream``), where the
digest covers ``pyproject.toml`` and every file of the distribution's package directories: a
rebuild happens only when one of them changed. The directory appears whole or not at all (built
in a temporary sibling, then renamed), so an interrupted build is never mistaken for a finished one.
The controller's Python must be the nodes' (Debian 12: CPython 3.11), which the stamp records.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from lendstream.cluster import REPO_ROOT

DISTRIBUTION = "lendstream"
STAMP_NAME = "wheelhouse.json"
REQUIREMENTS_NAME = "requirements.txt"
DEPENDENCIES_ARCHIVE = "dependencies.tar"
DIGEST_LENGTH = 16
# Wheelhouses kept on the controller (newest first); older ones are removed after a build.
KEEP_WHEELHOUSES = 3
PIP_TIMEOUT_S = 1800.0
# Never part of a distribution: byte code and editors' and tools' leftovers.
_IGNORED_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-.+\.whl$")


class WheelhouseError(RuntimeError):
    """The wheelhouse could not be built; says which step failed and why."""


@dataclass(frozen=True, slots=True)
class Wheelhouse:
    """A finished wheelhouse: its directory and what its stamp records."""

    directory: Path
    digest: str
    python_tag: str
    distribution_wheel: str
    wheels: dict[str, str]

    @property
    def stamp(self) -> Path:
        return self.directory / STAMP_NAME

    @property
    def requirements(self) -> Path:
        return self.directory / REQUIREMENTS_NAME

    @property
    def dependencies_archive(self) -> Path:
        return self.directory / DEPENDENCIES_ARCHIVE


def wheelhouse_root() -> Path:
    base = os.environ.get("LENDSTREAM_CACHE_DIR") or "~/.cache/lendstream"
    return Path(base).expanduser() / "wheelhouse"


def python_tag() -> str:
    """The controller Python's tag (e.g. ``cp311``): the nodes' must match it."""
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def package_directories(repo_root: Path) -> list[Path]:
    """The directories the distribution is built from, as pyproject's package-dir maps them."""
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = pyproject["tool"]["setuptools"]
    mapping: dict[str, str] = setuptools.get("package-dir", {})
    roots: set[Path] = set()
    for package in setuptools["packages"]:
        top = package
        while top not in mapping and "." in top:
            top = top.rsplit(".", 1)[0]
        roots.add(repo_root / mapping.get(top, top.replace(".", "/")))
    # A mapped package below another mapped root is covered by that root.
    return sorted(root for root in roots if not any(other in root.parents for other in roots))


def _distribution_files(repo_root: Path) -> Iterator[Path]:
    yield repo_root / "pyproject.toml"
    for root in package_directories(repo_root):
        for path in sorted(root.rglob("*")):
            if path.is_file() and not _IGNORED_PARTS.intersection(path.relative_to(root).parts):
                yield path


def source_digest(repo_root: Path = REPO_ROOT) -> str:
    """A digest of pyproject.toml and the distribution's sources (paths and contents)."""
    digest = hashlib.sha256(python_tag().encode())
    for path in _distribution_files(repo_root):
        digest.update(str(path.relative_to(repo_root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:DIGEST_LENGTH]


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def requirement_lines(wheel_names: list[str]) -> list[str]:
    """``name==version`` for each wheel file name, sorted (names normalised as pip does)."""
    lines = []
    for wheel in wheel_names:
        match = _WHEEL_NAME.match(wheel)
        if match is None:
            raise WheelhouseError(f"{wheel} is not a wheel file name")
        name = re.sub(r"[-_.]+", "-", match["name"]).lower()
        lines.append(f"{name}=={match['version']}")
    return sorted(lines)


def load(directory: Path) -> Wheelhouse | None:
    """The finished wheelhouse in ``directory``, or None when there is none (or it is damaged)."""
    stamp = directory / STAMP_NAME
    if not stamp.is_file():
        return None
    recorded = json.loads(stamp.read_text(encoding="utf-8"))
    wheelhouse = Wheelhouse(
        directory=directory,
        digest=recorded["digest"],
        python_tag=recorded["python_tag"],
        distribution_wheel=recorded["distribution_wheel"],
        wheels=recorded["wheels"],
    )
    needed = (wheelhouse.dependencies_archive, directory / wheelhouse.distribution_wheel)
    if not all(path.is_file() for path in needed):
        return None
    return wheelhouse


def _reproducible(member: tarfile.TarInfo) -> tarfile.TarInfo:
    member.mtime = 0
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    member.mode = 0o644
    return member


def write_dependencies_archive(directory: Path, wheel_names: list[str]) -> Path:
    """Move the dependency wheels into one archive whose bytes depend only on the wheels."""
    archive = directory / DEPENDENCIES_ARCHIVE
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(wheel_names):
            tar.add(directory / name, arcname=name, filter=_reproducible)
    for name in wheel_names:
        (directory / name).unlink()
    return archive


def _pip_wheel(repo_root: Path, destination: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--disable-pip-version-check",
        "--no-input",
        "--wheel-dir",
        str(destination),
        str(repo_root),
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise WheelhouseError(f"pip wheel took more than {PIP_TIMEOUT_S:.0f} s") from error
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise WheelhouseError(f"pip wheel failed (exit {result.returncode}):\n{tail}")


def build(repo_root: Path = REPO_ROOT, root: Path | None = None) -> tuple[Wheelhouse, bool]:
    """The wheelhouse of the checkout's current sources, and whether it was built just now."""
    root = root or wheelhouse_root()
    digest = source_digest(repo_root)
    final = root / digest
    existing = load(final)
    if existing is not None:
        return existing, False
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest}.", dir=root))
    try:
        _pip_wheel(repo_root, staging)
        wheel_names = sorted(path.name for path in staging.glob("*.whl"))
        own = [name for name in wheel_names if name.startswith(f"{DISTRIBUTION}-")]
        if len(own) != 1:
            raise WheelhouseError(f"expected one {DISTRIBUTION} wheel, found {own}")
        lines = requirement_lines(wheel_names)
        (staging / REQUIREMENTS_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
        wheelhouse = Wheelhouse(
            directory=final,
            digest=digest,
            python_tag=python_tag(),
            distribution_wheel=own[0],
            wheels={name: _sha256(staging / name) for name in wheel_names},
        )
        stamp = {key: value for key, value in asdict(wheelhouse).items() if key != "directory"}
        write_dependencies_archive(staging, [name for name in wheel_names if name not in own])
        (staging / STAMP_NAME).write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
        if final.exists():  # a damaged earlier attempt (its stamp or a wheel missing)
            shutil.rmtree(final)
        staging.chmod(0o755)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    prune(root, keep=KEEP_WHEELHOUSES)
    return wheelhouse, True


def prune(root: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest finished wheelhouses under ``root``; the removed."""
    finished = [path for path in root.iterdir() if (path / STAMP_NAME).is_file()]
    finished.sort(key=lambda path: (path / STAMP_NAME).stat().st_mtime, reverse=True)
    removed = finished[keep:]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lendstream.deploy.wheelhouse", description=__doc__.split("\n")[0]
    )
    parser.add_argument("action", choices=["build", "digest"])
    parser.add_argument("--json", action="store_true", help="print the result as a JSON object")
    args = parser.parse_args(argv)
    if args.action == "digest":
        print(source_digest())
        return 0
    try:
        wheelhouse, built = build()
    except (WheelhouseError, OSError) as error:
        print(f"wheelhouse: {error}", file=sys.stderr)
        return 2
    if args.json:
        answer = {"directory": str(wheelhouse.directory), "digest": wheelhouse.digest}
        print(json.dumps({**answer, "built": built, "wheels": len(wheelhouse.wheels)}))
    else:
        print(wheelhouse.directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
