"""The bundle cache and its rebuild rule.

A bundle lives in ``$LENDSTREAM_CACHE_DIR/bundles/<component>-<version>/`` (default cache:
``~/.cache/lendstream``) with ``bundle.json`` (component, version, the hash of what Maven built
it from, its directories) and ``MANIFEST.sha256``; beside it its tarball and ``.sha256``. A
bundle is rebuilt only when missing or when its POMs or the bundle format changed: how its
daemons start is the catalogue's, outside the bundle, so changing that rebuilds nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lendstream.stack.artifacts import jars, maven
from lendstream.stack.artifacts.catalogue import BUNDLE_JSON_NAME, BUNDLES, BundleSpec
from lendstream.stack.artifacts.errors import BundleError
from lendstream.stack.artifacts.files import (
    MANIFEST_NAME,
    tarball_path,
    write_manifest,
    write_tarball,
)

# Bump when the bundle layout or bundle.json format changes: every bundle is rebuilt.
BUNDLE_FORMAT = 1
CREATED_BY = f"lendstream.stack.artifacts (bundle format {BUNDLE_FORMAT})"


def cache_root() -> Path:
    base = os.environ.get("LENDSTREAM_CACHE_DIR") or "~/.cache/lendstream"
    return Path(base).expanduser() / "bundles"


def bundle_dir_name(component: str) -> str:
    return f"{component}-{maven.bundle_version(component)}"


def _descriptor_digest(component: str) -> Any:
    digest = hashlib.sha256(f"format {BUNDLE_FORMAT}\n".encode())
    for descriptor in maven.descriptors(component):
        digest.update(f"{descriptor.target_dir}\n".encode())
        digest.update(descriptor.pom.read_bytes())
    return digest


def descriptor_key(component: str) -> str:
    """Hash of what Maven builds the bundle from: its POMs and the bundle format."""
    return str(_descriptor_digest(component).hexdigest())


def _key_with_its_description(component: str, document: dict[str, Any]) -> str | None:
    """Bundles built while bundle.json carried the daemon description hashed it too: the key
    they would have today from the description they carry (None for newer bundles)."""
    if "daemons" not in document:
        return None
    description = {
        "name": document["component"],
        "logging_backend": document["logging_backend"],
        "daemons": document["daemons"],
        "tools": document["tools"],
        "classpath_sets": BUNDLES[component].classpath_sets,
        "notes": document["notes"],
    }
    digest = _descriptor_digest(component)
    digest.update(json.dumps(description, sort_keys=True).encode())
    return str(digest.hexdigest())


@contextlib.contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    """One builder at a time per cache (other engineers share the cache on this machine)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_bundle_json(component: BundleSpec, bundle: Path, version: str, key: str) -> None:
    document = {
        "component": component.name,
        "version": version,
        "created_by": CREATED_BY,
        "descriptor_sha256": key,
        "directories": sorted(p.name for p in bundle.iterdir() if p.is_dir()),
        "daemons_described_by": "lendstream.stack.artifacts.catalogue",
    }
    (bundle / BUNDLE_JSON_NAME).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def _is_current(bundle: Path, component: str) -> bool:
    try:
        document = json.loads((bundle / BUNDLE_JSON_NAME).read_text())
    except (OSError, ValueError):
        return False
    recorded = document.get("descriptor_sha256")
    tarball = tarball_path(bundle)
    return (
        recorded in {descriptor_key(component), _key_with_its_description(component, document)}
        and (bundle / MANIFEST_NAME).is_file()
        and tarball.is_file()
        and tarball.with_name(tarball.name + ".sha256").is_file()
    )


def build(
    component: str, *, force: bool = False, timeout: float = maven.MAVEN_TIMEOUT_SECONDS
) -> Path:
    """Build the component's bundle unless an up-to-date one is cached; return its directory."""
    spec = BUNDLES.get(component)
    if spec is None:
        raise BundleError(f"unknown component {component!r}; known: {', '.join(BUNDLES)}")
    version = maven.bundle_version(component)
    root = cache_root()
    bundle = root / f"{component}-{version}"
    if not force and _is_current(bundle, component):
        return bundle
    with _build_lock(root):
        if not force and _is_current(bundle, component):
            return bundle
        staging = Path(tempfile.mkdtemp(prefix=f".{component}-", dir=root))
        try:
            deadline = time.monotonic() + timeout
            for descriptor in maven.descriptors(component):
                remaining = deadline - time.monotonic()
                maven.run_maven(descriptor, staging / descriptor.target_dir, remaining)
            jars.finish(spec, staging, version)
            conflicts = jars.logging_conflicts(staging, spec)
            if conflicts:
                raise BundleError(f"{component}: logging backend conflicts: {conflicts}")
            mismatches = jars.netty_native_mismatches(staging, spec)
            if mismatches:
                raise BundleError(f"{component}: netty native libraries: {mismatches}")
            _write_bundle_json(spec, staging, version, descriptor_key(component))
            write_manifest(staging)
            staging.chmod(0o755)
            if bundle.exists():
                shutil.rmtree(bundle)
            staging.rename(bundle)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        write_tarball(bundle)
    return bundle


def bundle_path(component: str) -> Path:
    """The directory of the component's bundle, built first if missing or out of date."""
    return build(component)


def bundle_info(component: str) -> dict[str, object]:
    version = maven.bundle_version(component)
    bundle = cache_root() / f"{component}-{version}"
    tarball = tarball_path(bundle)
    return {
        "version": version,
        "path": str(bundle),
        "tarball": str(tarball),
        "tarball_sha256_file": str(tarball.with_name(tarball.name + ".sha256")),
        "bundle_json": str(bundle / BUNDLE_JSON_NAME),
        "up_to_date": _is_current(bundle, component),
    }


def bundle_size_bytes(bundle: Path) -> int:
    return sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
