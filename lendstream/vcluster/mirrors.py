"""The Debian mirrors to use: the host's own apt sources, unless overridden.

The harness never names a mirror itself: it takes the archive and security URIs that the host's
apt already uses (LENDSTREAM_DEBIAN_MIRROR / LENDSTREAM_DEBIAN_SECURITY_MIRROR override them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SUITE = "bookworm"
SOURCES_LIST = Path("/etc/apt/sources.list")
SOURCES_DIR = Path("/etc/apt/sources.list.d")


@dataclass(frozen=True)
class DebianMirrors:
    archive: str
    security: str


@dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]


def parse_one_line_sources(text: str) -> list[AptSource]:
    sources: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        words = line.split()[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words.pop(0)
            words = words[1:]
        if len(words) >= 2:
            sources.append(AptSource(uri=words[0], suites=(words[1],)))
    return sources


def parse_deb822_sources(text: str) -> list[AptSource]:
    sources: list[AptSource] = []
    for paragraph in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in paragraph.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        suites = tuple(fields.get("suites", "").split())
        sources.extend(AptSource(uri=uri, suites=suites) for uri in fields.get("uris", "").split())
    return sources


def host_sources() -> list[AptSource]:
    sources = []
    if SOURCES_LIST.exists():
        sources += parse_one_line_sources(SOURCES_LIST.read_text(encoding="utf-8"))
    for path in sorted(SOURCES_DIR.glob("*.list")):
        sources += parse_one_line_sources(path.read_text(encoding="utf-8"))
    for path in sorted(SOURCES_DIR.glob("*.sources")):
        sources += parse_deb822_sources(path.read_text(encoding="utf-8"))
    return sources


def pick_mirrors(sources: list[AptSource]) -> DebianMirrors | None:
    archive = next((s.uri for s in sources if SUITE in s.suites), None)
    security = next((s.uri for s in sources if f"{SUITE}-security" in s.suites), None)
    if archive is None or security is None:
        return None
    return DebianMirrors(archive=archive.rstrip("/"), security=security.rstrip("/"))


def debian_mirrors() -> DebianMirrors:
    found = pick_mirrors(host_sources())
    archive = os.environ.get("LENDSTREAM_DEBIAN_MIRROR") or (found.archive if found else None)
    security = os.environ.get("LENDSTREAM_DEBIAN_SECURITY_MIRROR") or (
        found.security if found else None
    )
    if not archive or not security:
        raise RuntimeError(
            f"no Debian {SUITE} and {SUITE}-security sources in the host's apt configuration; "
            "set LENDSTREAM_DEBIAN_MIRROR and LENDSTREAM_DEBIAN_SECURITY_MIRROR"
        )
    return DebianMirrors(archive=archive, security=security)
