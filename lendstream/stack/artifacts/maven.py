"""The Maven side of a bundle: ``artifacts/<component>/pom.xml`` fills the bundle's ``lib/``, a
POM at ``artifacts/<component>/<dir>/pom.xml`` fills ``<dir>/`` (Storm's ``lib-worker/``, …);
every POM of a component declares the same ``bundle.version``, which names the bundle. Maven's
local repository stays its default (``~/.m2``)."""

from __future__ import annotations

import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from lendstream.stack.artifacts.errors import BundleError
from lendstream.stack.layout import CHECKOUT_ROOT

DESCRIPTOR_ROOT = CHECKOUT_ROOT / "artifacts"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MAVEN_TIMEOUT_SECONDS = 1200.0
POM_NAMESPACE = {"m": "http://maven.apache.org/POM/4.0.0"}


@dataclass(frozen=True)
class Descriptor:
    pom: Path
    target_dir: str  # directory inside the bundle


def descriptors(component: str) -> list[Descriptor]:
    """The component's POMs, the main one (``lib/``) first."""
    root = DESCRIPTOR_ROOT / component
    if not (root / "pom.xml").is_file():
        raise BundleError(f"no Maven descriptor {root / 'pom.xml'}")
    found = [Descriptor(root / "pom.xml", "lib")]
    for pom in sorted(root.glob("*/pom.xml")):
        found.append(Descriptor(pom, pom.parent.name))
    return found


def _pom_property(pom: Path, name: str) -> str | None:
    element = ET.parse(pom).getroot().find(f"m:properties/m:{name}", POM_NAMESPACE)
    return element.text.strip() if element is not None and element.text else None


def bundle_version(component: str) -> str:
    versions = {d.pom: _pom_property(d.pom, "bundle.version") for d in descriptors(component)}
    distinct = set(versions.values())
    if len(distinct) != 1 or None in distinct:
        raise BundleError(f"{component}: POMs disagree on bundle.version: {versions}")
    return distinct.pop()  # type: ignore[return-value]


def run_maven(descriptor: Descriptor, output_dir: Path, timeout: float) -> None:
    """Copy the POM's runtime dependency closure into output_dir; offline first (everything
    already in ~/.m2), then online."""
    base = [
        "mvn",
        "-B",
        "-q",
        "-f",
        str(descriptor.pom),
        f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
        f"-DoutputDirectory={output_dir}",
        "-DincludeScope=runtime",
        "-Dmdep.copyPom=false",
    ]
    deadline = time.monotonic() + timeout
    failure = ""
    for offline in (True, False):
        command = [*base, "-o"] if offline else base
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=max(1.0, deadline - time.monotonic()),
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise BundleError(
                f"maven timed out after {timeout:.0f} s on {descriptor.pom}"
            ) from error
        if result.returncode == 0:
            return
        failure = (result.stdout + result.stderr)[-3000:]
        shutil.rmtree(output_dir, ignore_errors=True)
    raise BundleError(f"maven failed on {descriptor.pom}:\n{failure}")
