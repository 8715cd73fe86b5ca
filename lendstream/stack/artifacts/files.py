"""A bundle's files: the checksum manifest (``MANIFEST.sha256``, ``sha256sum -c`` compatible),
verification against it, and the reproducible tarball beside the bundle with its ``.sha256``."""

from __future__ import annotations

import gzip
import hashlib
import tarfile
from pathlib import Path

from lendstream.stack.artifacts.errors import BundleError

MANIFEST_NAME = "MANIFEST.sha256"


def tarball_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + ".tar.gz")


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _bundle_files(bundle: Path) -> list[str]:
    return sorted(
        p.relative_to(bundle).as_posix()
        for p in bundle.rglob("*")
        if (p.is_file() or p.is_symlink()) and p.relative_to(bundle).as_posix() != MANIFEST_NAME
    )


def write_manifest(bundle: Path) -> None:
    lines = [f"{sha256_file(bundle / name)}  {name}\n" for name in _bundle_files(bundle)]
    (bundle / MANIFEST_NAME).write_text("".join(lines))


def verify(path: Path) -> None:
    """Raise :class:`BundleError` unless every file of the bundle matches its manifest exactly:
    no file missing, changed or added. Checks the tarball's ``.sha256`` too when present."""
    bundle = Path(path)
    manifest = bundle / MANIFEST_NAME
    if not manifest.is_file():
        raise BundleError(f"{bundle}: no {MANIFEST_NAME}")
    expected: dict[str, str] = {}
    for line in manifest.read_text().splitlines():
        digest, _, name = line.partition("  ")
        expected[name] = digest
    actual = set(_bundle_files(bundle))
    problems = [f"missing {n}" for n in sorted(expected.keys() - actual)]
    problems += [f"not in manifest {n}" for n in sorted(actual - expected.keys())]
    problems += [
        f"checksum mismatch {n}"
        for n in sorted(expected.keys() & actual)
        if sha256_file(bundle / n) != expected[n]
    ]
    tarball = tarball_path(bundle)
    checksum_file = tarball.with_name(tarball.name + ".sha256")
    if tarball.is_file() and checksum_file.is_file():
        recorded = checksum_file.read_text().split()[0]
        if sha256_file(tarball) != recorded:
            problems.append(f"checksum mismatch {tarball.name}")
    if problems:
        raise BundleError(f"{bundle}: " + "; ".join(problems))


def write_tarball(bundle: Path) -> Path:
    """A reproducible tar.gz of the bundle (sorted entries, root-owned, mtime 0) and its sha256,
    so the same bundle always gives the same archive (idempotent pushes to cluster nodes)."""
    tarball = tarball_path(bundle)
    partial = tarball.with_name(tarball.name + ".partial")

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 0
        info.mode = 0o755 if info.isdir() else 0o644
        return info

    with (
        partial.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        archive.add(bundle, arcname=bundle.name, recursive=False, filter=normalise)
        for path in sorted(bundle.rglob("*")):
            arcname = f"{bundle.name}/{path.relative_to(bundle).as_posix()}"
            archive.add(path, arcname=arcname, recursive=False, filter=normalise)
    partial.replace(tarball)
    checksum = tarball.with_name(tarball.name + ".sha256")
    checksum.write_text(f"{sha256_file(tarball)}  {tarball.name}\n")
    return tarball
