"""What is done to the jars Maven resolved before they become a bundle, and the checks that
each classpath holds one logging backend and no netty native library of another version than
netty's classes."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

from lendstream.stack.artifacts.catalogue import BundleSpec
from lendstream.stack.artifacts.errors import BundleError


def _jars(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.jar")) if directory.is_dir() else []


def slf4j_bindings(jar: Path) -> list[str]:
    """The SLF4J backends a jar provides (1.x StaticLoggerBinder or a 2.x service provider)."""
    found = []
    with zipfile.ZipFile(jar) as archive:
        names = set(archive.namelist())
        if "org/slf4j/impl/StaticLoggerBinder.class" in names:
            found.append("slf4j-1.x binding")
        if "META-INF/services/org.slf4j.spi.SLF4JServiceProvider" in names:
            found.append("slf4j-2.x provider")
    return found


def logging_conflicts(bundle: Path, component: BundleSpec) -> list[str]:
    """One logging backend per classpath: at most one SLF4J backend (1.x binding or 2.x
    provider), no log4j 1.x API twice (reload4j/log4j next to log4j-over-slf4j), and no bridge
    pair that loops (log4j-to-slf4j next to log4j-slf4j*-impl)."""
    problems = []
    for directories in component.classpath_sets:
        where = "+".join(directories)
        jars = [jar for d in directories for jar in _jars(bundle / d)]
        backends = sorted(jar.name for jar in jars if slf4j_bindings(jar))
        if len(backends) > 1:
            problems.append(f"{where}: several SLF4J backends {backends}")
        names = [jar.name for jar in jars]

        def present(prefix: str, names: list[str] = names) -> bool:
            return any(name.startswith(prefix) for name in names)

        if present("log4j-over-slf4j") and (present("reload4j") or present("log4j-1.")):
            problems.append(f"{where}: log4j 1.x API twice (log4j-over-slf4j and reload4j/log4j)")
        if present("log4j-to-slf4j") and present("log4j-slf4j"):
            problems.append(f"{where}: log4j-to-slf4j and log4j-slf4j*-impl loop")
    return problems


# netty's native transports (a classifier per platform) and the classes they must match exactly:
# an older library under newer classes loads, then a JNI method is missing at the first connect
# (UnsatisfiedLinkError; docs/security.md, "ZooKeeper TLS").
_NETTY_NATIVE = re.compile(r"netty-transport-native-(epoll|kqueue)-(.+)-(linux|osx)-[^-]+\.jar")
_NETTY_CLASSES = re.compile(r"netty-transport-classes-(epoll|kqueue)-(.+)\.jar")


def netty_native_mismatches(bundle: Path, component: BundleSpec) -> list[str]:
    """Per classpath: the netty native transport jars whose version differs from the same
    transport's classes jar (or that have no classes jar beside them)."""
    problems = []
    for directories in component.classpath_sets:
        names = [jar.name for d in directories for jar in _jars(bundle / d)]
        classes = {m[1]: m[2] for m in map(_NETTY_CLASSES.fullmatch, names) if m}
        for name in names:
            native = _NETTY_NATIVE.fullmatch(name)
            if native and classes.get(native[1]) != native[2]:
                problems.append(
                    f"{'+'.join(directories)}: {name} beside netty-transport-classes-"
                    f"{native[1]} {classes.get(native[1], '(none)')}"
                )
    return problems


def _dedupe_against(bundle: Path, directory: str, reference: str) -> None:
    """Drop from ``directory`` the jars already in ``reference`` (it is always on the same
    classpath), as Storm's own distribution effectively has them once."""
    present = {jar.name for jar in _jars(bundle / reference)}
    for jar in _jars(bundle / directory):
        if jar.name in present:
            jar.unlink()


# A fixed timestamp for the entries of jars the builder writes, so rebuilding gives the same bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _hdfs_webapps_jar(bundle: Path, version: str) -> None:
    """Move the HDFS web applications (webapps/hdfs, datanode, secondary, journal, static) out of
    hadoop-hdfs's test jar, the only Maven artifact that carries them, into a jar of their own in
    lib/, and drop the test jar (its test classes and resources stay off the classpath)."""
    staging = bundle / "hdfs-webapps"
    test_jar = staging / f"hadoop-hdfs-{version}-tests.jar"
    if not test_jar.is_file():
        raise BundleError(f"{test_jar.name} was not resolved")
    target = bundle / "lib" / f"hadoop-hdfs-webapps-{version}.jar"
    with zipfile.ZipFile(test_jar) as source, zipfile.ZipFile(target, "w") as webapps:
        names = sorted(n for n in source.namelist() if n.startswith("webapps/"))
        if not any(n.startswith("webapps/hdfs/") for n in names):
            raise BundleError(f"{test_jar.name} has no webapps/hdfs/")
        for name in names:
            entry = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            entry.external_attr = (0o40755 if name.endswith("/") else 0o100644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            webapps.writestr(entry, b"" if name.endswith("/") else source.read(name))
    shutil.rmtree(staging)


def finish(component: BundleSpec, bundle: Path, version: str) -> None:
    """The component's own steps after Maven, in the staging directory."""
    if component.name == "storm":
        _dedupe_against(bundle, "extlib-kafka", "lib-worker")
    if component.name == "hadoop":
        _hdfs_webapps_jar(bundle, version)
