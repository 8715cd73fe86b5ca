"""Artifact bundles: one relocatable directory of jars per JVM component, resolved by Maven.

Each component has checked-in Maven descriptors under ``artifacts/<component>/``: the POM at
``artifacts/<component>/pom.xml`` fills the bundle's ``lib/``; a POM at
``artifacts/<component>/<dir>/pom.xml`` fills ``<dir>/`` (Storm's ``lib-worker/``, …). Every POM
of a component declares the same ``bundle.version`` property.

A bundle lives in ``$LENDSTREAM_CACHE_DIR/bundles/<component>-<version>/`` (default cache:
``~/.cache/lendstream``) with ``bundle.json`` (component, version, daemons with their main class,
classpath and JVM options, all relative to the bundle) and ``MANIFEST.sha256`` (sha256 of every
other file). Beside it: ``<component>-<version>.tar.gz`` (reproducible: fixed owner and mtime) and
its ``.sha256``. A bundle is rebuilt only when missing or when the hash of its descriptors (and of
its daemon description) changed.

CLI: ``python -m lendstream.stack.artifacts build [--component X] | verify [--component X] | list``.
API: :func:`bundle_path` (builds if needed) and :func:`verify`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DESCRIPTOR_ROOT = REPOSITORY_ROOT / "artifacts"
MANIFEST_NAME = "MANIFEST.sha256"
BUNDLE_JSON_NAME = "bundle.json"
# Bump when the bundle layout or bundle.json format changes: every bundle is rebuilt.
BUNDLE_FORMAT = 1
CREATED_BY = f"lendstream.stack.artifacts (bundle format {BUNDLE_FORMAT})"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MAVEN_TIMEOUT_SECONDS = 1200.0
POM_NAMESPACE = {"m": "http://maven.apache.org/POM/4.0.0"}

# Placeholders in bundle.json, filled in by whoever starts a daemon (local stack, Ansible):
#   {bundle}   the bundle directory on that machine
#   {conf_dir} the daemon's rendered configuration directory (outside the bundle)
#   {log_dir}  the daemon's log directory
#   {data_dir} the daemon's data directory


class BundleError(RuntimeError):
    """A bundle could not be built, or does not match its manifest."""


@dataclass(frozen=True)
class Daemon:
    """How to start one JVM process from a bundle: ``java <jvm_options> -cp <classpath> <main>``."""

    main_class: str
    classpath: tuple[str, ...]
    args: tuple[str, ...] = ()
    jvm_options: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Component:
    name: str
    logging_backend: str
    daemons: dict[str, Daemon]
    tools: dict[str, Daemon] = field(default_factory=dict)
    # Names of the bundle directories whose jars are never on one classpath together with
    # another directory's (each such set must carry exactly one SLF4J binding).
    classpath_sets: tuple[tuple[str, ...], ...] = (("lib",),)
    notes: tuple[str, ...] = ()


# --- the components -------------------------------------------------------------------------

# HBase 2.6 and Hadoop 3.4 reach into JDK internals; these are the module openings their own
# launch scripts add on Java 17 (harmless where not needed).
JDK17_OPENS = (
    "-XX:+IgnoreUnrecognizedVMOptions",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
)

ZOOKEEPER = Component(
    name="zookeeper",
    logging_backend="logback (logback.xml via -Dlogback.configurationFile)",
    daemons={
        "server": Daemon(
            main_class="org.apache.zookeeper.server.quorum.QuorumPeerMain",
            classpath=("{conf_dir}", "{bundle}/lib/*"),
            args=("{conf_dir}/zoo.cfg",),
            jvm_options=(
                "-Dzookeeper.log.dir={log_dir}",
                "-Dzookeeper.log.file=zookeeper.log",
                "-Dlogback.configurationFile={conf_dir}/logback.xml",
            ),
            note="zoo.cfg: set 4lw.commands.whitelist to include ruok for the health check",
        )
    },
    tools={
        "cli": Daemon("org.apache.zookeeper.ZooKeeperMain", ("{bundle}/lib/*",), ("-server",)),
        "version": Daemon("org.apache.zookeeper.Version", ("{bundle}/lib/*",)),
    },
)

KAFKA = Component(
    name="kafka",
    logging_backend="log4j2 (log4j2.yaml or .xml via -Dlog4j2.configurationFile)",
    daemons={
        "server": Daemon(
            main_class="kafka.Kafka",
            classpath=("{bundle}/lib/*",),
            args=("{conf_dir}/server.properties",),
            jvm_options=(
                "-Dkafka.logs.dir={log_dir}",
                "-Dlog4j2.configurationFile={conf_dir}/log4j2.yaml",
            ),
            note="KRaft: format the storage once (tool storage-format) before the first start",
        )
    },
    tools={
        "storage-format": Daemon(
            "kafka.tools.StorageTool",
            ("{bundle}/lib/*",),
            ("format", "--cluster-id", "<id>", "--config", "{conf_dir}/server.properties"),
            note="add --standalone for a single combined broker+controller",
        ),
        "storage-random-uuid": Daemon(
            "kafka.tools.StorageTool", ("{bundle}/lib/*",), ("random-uuid",)
        ),
        "topics": Daemon("org.apache.kafka.tools.TopicCommand", ("{bundle}/lib/*",)),
        "consumer-groups": Daemon(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", ("{bundle}/lib/*",)
        ),
        "metadata-quorum": Daemon(
            "org.apache.kafka.tools.MetadataQuorumCommand", ("{bundle}/lib/*",)
        ),
    },
)

_HBASE_CLASSPATH = ("{conf_dir}", "{bundle}/lib/*")
_HBASE_JVM = (
    *JDK17_OPENS,
    "-Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true",
    "-Dhbase.log.dir={log_dir}",
    "-Dhbase.home.dir={bundle}",
    "-Dlog4j2.configurationFile={conf_dir}/log4j2.properties",
)
HBASE = Component(
    name="hbase",
    logging_backend="log4j2 (log4j2.properties or .xml via -Dlog4j2.configurationFile)",
    daemons={
        "master": Daemon(
            "org.apache.hadoop.hbase.master.HMaster",
            _HBASE_CLASSPATH,
            ("start",),
            (*_HBASE_JVM, "-Dhbase.log.file=hbase-master.log"),
            note="standalone (hbase.cluster.distributed=false): master + regionserver in one JVM",
        ),
        "regionserver": Daemon(
            "org.apache.hadoop.hbase.regionserver.HRegionServer",
            _HBASE_CLASSPATH,
            ("start",),
            (*_HBASE_JVM, "-Dhbase.log.file=hbase-regionserver.log"),
        ),
        "thrift": Daemon(
            "org.apache.hadoop.hbase.thrift.ThriftServer",
            _HBASE_CLASSPATH,
            ("-threadpool", "-p", "9090", "start"),
            (*_HBASE_JVM, "-Dhbase.log.file=hbase-thrift.log"),
            note="Thrift 1, binary protocol, buffered transport: what happybase speaks",
        ),
    },
    tools={
        "version": Daemon("org.apache.hadoop.hbase.util.VersionInfo", _HBASE_CLASSPATH),
    },
)

_STORM_DAEMON_CLASSPATH = (
    "{bundle}/lib/*",
    "{bundle}/extlib/*",
    "{bundle}/extlib-daemon/*",
    "{conf_dir}",
)


def _storm_jvm(daemon_name: str) -> tuple[str, ...]:
    return (
        "-Dstorm.home={bundle}",
        "-Dstorm.log.dir={log_dir}",
        f"-Ddaemon.name={daemon_name}",
        f"-Dlogfile.name={daemon_name}.log",
        "-Dlog4j.configurationFile={conf_dir}/log4j2/cluster.xml",
        "-Djava.deserialization.disabled=true",
    )


STORM = Component(
    name="storm",
    logging_backend="log4j2 (cluster.xml for daemons, worker.xml for workers)",
    daemons={
        "nimbus": Daemon(
            "org.apache.storm.daemon.nimbus.Nimbus",
            _STORM_DAEMON_CLASSPATH,
            (),
            _storm_jvm("nimbus"),
        ),
        "supervisor": Daemon(
            "org.apache.storm.daemon.supervisor.Supervisor",
            _STORM_DAEMON_CLASSPATH,
            (),
            _storm_jvm("supervisor"),
            note=(
                "workers: {bundle}/lib-worker/* + {bundle}/extlib/* + $STORM_EXT_CLASSPATH + "
                "$STORM_CONF_DIR; set STORM_CONF_DIR={conf_dir} in the supervisor's environment "
                "and storm.log4j2.conf.dir: {conf_dir}/log4j2 (worker.xml) in storm.yaml"
            ),
        ),
    },
    tools={
        "version": Daemon("org.apache.storm.utils.VersionInfo", ("{bundle}/lib/*",)),
        "kill": Daemon("org.apache.storm.command.KillTopology", _STORM_DAEMON_CLASSPATH),
        "list": Daemon("org.apache.storm.command.ListTopologies", _STORM_DAEMON_CLASSPATH),
    },
    classpath_sets=(
        ("lib",),
        ("lib-worker",),
        ("lib-worker", "extlib-kafka"),
    ),
    notes=(
        "no UI and no logviewer: storm-webapp (and Storm's binary release) is not served by the "
        "Maven registry reachable here; nimbus's Thrift API (port 6627) answers instead",
        "extlib-kafka/ holds storm-kafka-client and kafka-clients for the JVM KafkaSpout; it is "
        "not on any classpath unless STORM_EXT_CLASSPATH={bundle}/extlib-kafka/* is set for the "
        "supervisor (workers inherit it) or its jars are copied into extlib/",
    ),
)

_HADOOP_CLASSPATH = ("{conf_dir}", "{bundle}/lib/*")
_HADOOP_JVM = (
    *JDK17_OPENS,
    "-Dhadoop.log.dir={log_dir}",
    "-Dhadoop.home.dir={bundle}",
    "-Dyarn.log.dir={log_dir}",
    "-Dlog4j.configuration=file:{conf_dir}/log4j.properties",
)


def _hadoop_daemon(main_class: str, log_file: str, *args: str) -> Daemon:
    return Daemon(
        main_class, _HADOOP_CLASSPATH, args, (*_HADOOP_JVM, f"-Dhadoop.log.file={log_file}")
    )


HADOOP = Component(
    name="hadoop",
    logging_backend="reload4j (log4j 1.2 API; log4j.properties via -Dlog4j.configuration)",
    daemons={
        "namenode": _hadoop_daemon(
            "org.apache.hadoop.hdfs.server.namenode.NameNode", "hadoop-namenode.log"
        ),
        "datanode": _hadoop_daemon(
            "org.apache.hadoop.hdfs.server.datanode.DataNode", "hadoop-datanode.log"
        ),
        "secondarynamenode": _hadoop_daemon(
            "org.apache.hadoop.hdfs.server.namenode.SecondaryNameNode",
            "hadoop-secondarynamenode.log",
        ),
        "resourcemanager": _hadoop_daemon(
            "org.apache.hadoop.yarn.server.resourcemanager.ResourceManager",
            "yarn-resourcemanager.log",
        ),
        "nodemanager": Daemon(
            "org.apache.hadoop.yarn.server.nodemanager.NodeManager",
            _HADOOP_CLASSPATH,
            (),
            (*_HADOOP_JVM, "-Dhadoop.log.file=yarn-nodemanager.log"),
            note=(
                "containers: set yarn.application.classpath and mapreduce.application.classpath to "
                "{conf_dir},{bundle}/lib/* (the bundle is flat, not share/hadoop/*), and JAVA_HOME "
                "in yarn.nodemanager.env-whitelist / the NodeManager environment"
            ),
        ),
        "jobhistory": _hadoop_daemon(
            "org.apache.hadoop.mapreduce.v2.hs.JobHistoryServer", "mapred-jobhistory.log"
        ),
    },
    tools={
        "namenode-format": _hadoop_daemon(
            "org.apache.hadoop.hdfs.server.namenode.NameNode",
            "hadoop-namenode-format.log",
            "-format",
            "-nonInteractive",
        ),
        "fs": Daemon("org.apache.hadoop.fs.FsShell", _HADOOP_CLASSPATH),
        "dfsadmin": Daemon("org.apache.hadoop.hdfs.tools.DFSAdmin", _HADOOP_CLASSPATH),
        "yarn-application-cli": Daemon(
            "org.apache.hadoop.yarn.client.cli.ApplicationCLI", _HADOOP_CLASSPATH
        ),
        "yarn-node-cli": Daemon("org.apache.hadoop.yarn.client.cli.NodeCLI", _HADOOP_CLASSPATH),
        "distributedshell": Daemon(
            "org.apache.hadoop.yarn.applications.distributedshell.Client",
            _HADOOP_CLASSPATH,
            ("-jar", "{bundle}/lib/hadoop-yarn-applications-distributedshell-<version>.jar"),
            note="the client waits for the job; needs JAVA_HOME in the NodeManager's environment",
        ),
        "version": Daemon("org.apache.hadoop.util.VersionInfo", ("{bundle}/lib/*",)),
    },
)

COMPONENTS: dict[str, Component] = {c.name: c for c in (ZOOKEEPER, KAFKA, HBASE, STORM, HADOOP)}


# --- descriptors and keys -----------------------------------------------------------------


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


def descriptor_key(component: str) -> str:
    """Hash of what defines the bundle: its POMs, its daemon description, the bundle format."""
    digest = hashlib.sha256(f"format {BUNDLE_FORMAT}\n".encode())
    for descriptor in descriptors(component):
        digest.update(f"{descriptor.target_dir}\n".encode())
        digest.update(descriptor.pom.read_bytes())
    digest.update(json.dumps(asdict(COMPONENTS[component]), sort_keys=True).encode())
    return digest.hexdigest()


# --- cache locations ----------------------------------------------------------------------


def cache_root() -> Path:
    base = os.environ.get("LENDSTREAM_CACHE_DIR") or "~/.cache/lendstream"
    return Path(base).expanduser() / "bundles"


def bundle_dir_name(component: str) -> str:
    return f"{component}-{bundle_version(component)}"


def tarball_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + ".tar.gz")


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


# --- manifests ------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _bundle_files(bundle: Path) -> list[str]:
    return sorted(
        p.relative_to(bundle).as_posix()
        for p in bundle.rglob("*")
        if (p.is_file() or p.is_symlink()) and p.relative_to(bundle).as_posix() != MANIFEST_NAME
    )


def write_manifest(bundle: Path) -> None:
    lines = [f"{_sha256_file(bundle / name)}  {name}\n" for name in _bundle_files(bundle)]
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
        if _sha256_file(bundle / n) != expected[n]
    ]
    tarball = tarball_path(bundle)
    checksum_file = tarball.with_name(tarball.name + ".sha256")
    if tarball.is_file() and checksum_file.is_file():
        recorded = checksum_file.read_text().split()[0]
        if _sha256_file(tarball) != recorded:
            problems.append(f"checksum mismatch {tarball.name}")
    if problems:
        raise BundleError(f"{bundle}: " + "; ".join(problems))


# --- building -------------------------------------------------------------------------------


def _run_maven(descriptor: Descriptor, output_dir: Path, timeout: float) -> None:
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


def logging_conflicts(bundle: Path, component: Component) -> list[str]:
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


def _post_process(component: Component, bundle: Path, version: str) -> None:
    if component.name == "storm":
        _dedupe_against(bundle, "extlib-kafka", "lib-worker")
    if component.name == "hadoop":
        _hdfs_webapps_jar(bundle, version)


def _write_bundle_json(component: Component, bundle: Path, version: str, key: str) -> None:
    document = {
        "component": component.name,
        "version": version,
        "created_by": CREATED_BY,
        "descriptor_sha256": key,
        "logging_backend": component.logging_backend,
        "placeholders": {
            "{bundle}": "this bundle's directory on the machine that runs it",
            "{conf_dir}": "the daemon's rendered configuration directory (outside the bundle)",
            "{log_dir}": "the daemon's log directory",
        },
        "directories": sorted(p.name for p in bundle.iterdir() if p.is_dir()),
        "daemons": {name: asdict(d) for name, d in component.daemons.items()},
        "tools": {name: asdict(d) for name, d in component.tools.items()},
        "notes": list(component.notes),
    }
    (bundle / BUNDLE_JSON_NAME).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


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
    checksum.write_text(f"{_sha256_file(tarball)}  {tarball.name}\n")
    return tarball


def _is_current(bundle: Path, key: str) -> bool:
    try:
        document = json.loads((bundle / BUNDLE_JSON_NAME).read_text())
    except (OSError, ValueError):
        return False
    tarball = tarball_path(bundle)
    return (
        document.get("descriptor_sha256") == key
        and (bundle / MANIFEST_NAME).is_file()
        and tarball.is_file()
        and tarball.with_name(tarball.name + ".sha256").is_file()
    )


def build(component: str, *, force: bool = False, timeout: float = MAVEN_TIMEOUT_SECONDS) -> Path:
    """Build the component's bundle unless an up-to-date one is cached; return its directory."""
    spec = COMPONENTS.get(component)
    if spec is None:
        raise BundleError(f"unknown component {component!r}; known: {', '.join(COMPONENTS)}")
    version = bundle_version(component)
    key = descriptor_key(component)
    root = cache_root()
    bundle = root / f"{component}-{version}"
    if not force and _is_current(bundle, key):
        return bundle
    with _build_lock(root):
        if not force and _is_current(bundle, key):
            return bundle
        staging = Path(tempfile.mkdtemp(prefix=f".{component}-", dir=root))
        try:
            deadline = time.monotonic() + timeout
            for descriptor in descriptors(component):
                remaining = deadline - time.monotonic()
                _run_maven(descriptor, staging / descriptor.target_dir, remaining)
            _post_process(spec, staging, version)
            conflicts = logging_conflicts(staging, spec)
            if conflicts:
                raise BundleError(f"{component}: logging backend conflicts: {conflicts}")
            _write_bundle_json(spec, staging, version, key)
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
    version = bundle_version(component)
    bundle = cache_root() / f"{component}-{version}"
    tarball = tarball_path(bundle)
    return {
        "version": version,
        "path": str(bundle),
        "tarball": str(tarball),
        "tarball_sha256_file": str(tarball.with_name(tarball.name + ".sha256")),
        "bundle_json": str(bundle / BUNDLE_JSON_NAME),
        "up_to_date": _is_current(bundle, descriptor_key(component)),
    }


def daemon_command(
    bundle: Path,
    name: str,
    *,
    conf_dir: Path,
    log_dir: Path,
    java: str = "java",
    args: tuple[str, ...] | None = None,
    extra_jvm_options: tuple[str, ...] = (),
) -> list[str]:
    """The ``java`` command line for a daemon or tool named in the bundle's ``bundle.json``,
    with the placeholders filled in; ``args`` replaces the default arguments and
    ``extra_jvm_options`` (heap size, …) come after the bundle's own."""
    document = json.loads((bundle / BUNDLE_JSON_NAME).read_text())
    spec = document["daemons"].get(name) or document["tools"].get(name)
    if spec is None:
        raise BundleError(f"{bundle}: no daemon or tool {name!r}")
    values = {"{bundle}": str(bundle), "{conf_dir}": str(conf_dir), "{log_dir}": str(log_dir)}

    def fill(text: str) -> str:
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    classpath = os.pathsep.join(fill(entry) for entry in spec["classpath"])
    chosen_args = spec["args"] if args is None else args
    return [
        java,
        *(fill(option) for option in spec["jvm_options"]),
        *extra_jvm_options,
        "-cp",
        classpath,
        spec["main_class"],
        *(fill(arg) for arg in chosen_args),
    ]


def bundle_size_bytes(bundle: Path) -> int:
    return sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())


# --- command line -------------------------------------------------------------------------


def _selected(component: str | None) -> list[str]:
    return [component] if component else list(COMPONENTS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lendstream.stack.artifacts")
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser("build", help="build missing or outdated bundles")
    build_command.add_argument("--component", choices=list(COMPONENTS))
    build_command.add_argument("--force", action="store_true", help="rebuild even if up to date")
    verify_command = commands.add_parser("verify", help="check bundles against their manifests")
    verify_command.add_argument("--component", choices=list(COMPONENTS))
    commands.add_parser("list", help="print the bundles' paths as JSON")
    args = parser.parse_args(argv)

    out = io.StringIO()
    if args.command == "build":
        for name in _selected(args.component):
            started = time.monotonic()
            bundle = build(name, force=args.force)
            size_mib = bundle_size_bytes(bundle) / (1 << 20)
            elapsed = time.monotonic() - started
            print(f"{name}: {bundle} ({size_mib:.0f} MiB, {elapsed:.1f} s)", file=out)
    elif args.command == "verify":
        failed = False
        for name in _selected(args.component):
            bundle = cache_root() / bundle_dir_name(name)
            try:
                verify(bundle)
                print(f"{name}: ok {bundle}", file=out)
            except BundleError as error:
                failed = True
                print(f"{name}: FAILED {error}", file=out)
        sys.stdout.write(out.getvalue())
        return 1 if failed else 0
    else:
        json.dump({name: bundle_info(name) for name in COMPONENTS}, out, indent=2)
        out.write("\n")
    sys.stdout.write(out.getvalue())
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BundleError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
