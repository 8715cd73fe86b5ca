"""Manifest, verification and logging checks on bundles made here in a temporary directory
(pure file logic: no Maven, no JVM)."""

from __future__ import annotations

import json
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

from lendstream.stack.artifacts import catalogue, files, jars
from lendstream.stack.artifacts.errors import BundleError


def _jar(path: Path, *entries: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for entry in entries:
            archive.writestr(entry, b"x")
    return path


def _small_bundle(root: Path) -> Path:
    bundle = root / "demo-1.0"
    _jar(bundle / "lib" / "demo-1.0.jar", "demo/Main.class")
    _jar(bundle / "lib" / "log4j-slf4j-impl-2.25.5.jar", "org/slf4j/impl/StaticLoggerBinder.class")
    (bundle / "bundle.json").write_text(json.dumps({"component": "demo"}))
    files.write_manifest(bundle)
    return bundle


def test_untouched_bundle_verifies(tmp_path: Path) -> None:
    bundle = _small_bundle(tmp_path)
    files.verify(bundle)
    manifest = (bundle / files.MANIFEST_NAME).read_text().splitlines()
    assert [line.split("  ")[1] for line in manifest] == [
        "bundle.json",
        "lib/demo-1.0.jar",
        "lib/log4j-slf4j-impl-2.25.5.jar",
    ]


def test_changed_file_fails_verify(tmp_path: Path) -> None:
    bundle = _small_bundle(tmp_path)
    with (bundle / "lib" / "demo-1.0.jar").open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(BundleError, match=r"checksum mismatch lib/demo-1\.0\.jar"):
        files.verify(bundle)


def test_missing_and_added_files_fail_verify(tmp_path: Path) -> None:
    bundle = _small_bundle(tmp_path)
    (bundle / "lib" / "demo-1.0.jar").unlink()
    _jar(bundle / "lib" / "intruder.jar", "x/Y.class")
    with pytest.raises(BundleError) as failure:
        files.verify(bundle)
    assert "missing lib/demo-1.0.jar" in str(failure.value)
    assert "not in manifest lib/intruder.jar" in str(failure.value)


def test_tarball_checksum_is_checked(tmp_path: Path) -> None:
    bundle = _small_bundle(tmp_path)
    tarball = files.write_tarball(bundle)
    files.verify(bundle)
    tarball.write_bytes(tarball.read_bytes() + b"\0")
    with pytest.raises(BundleError, match=re.escape("checksum mismatch demo-1.0.tar.gz")):
        files.verify(bundle)


def test_tarball_is_reproducible_and_relocatable(tmp_path: Path) -> None:
    bundle = _small_bundle(tmp_path)
    first = files.write_tarball(bundle).read_bytes()
    (bundle / "lib" / "demo-1.0.jar").touch()  # a new mtime must not change the archive
    second = files.write_tarball(bundle).read_bytes()
    assert first == second
    with tarfile.open(files.tarball_path(bundle)) as archive:
        members = archive.getmembers()
        assert {m.name.split("/")[0] for m in members} == {"demo-1.0"}
        assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, 0)}
        archive.extractall(tmp_path / "elsewhere", filter="data")
    files.verify(tmp_path / "elsewhere" / "demo-1.0")


def test_two_slf4j_backends_are_a_conflict(tmp_path: Path) -> None:
    bundle = _small_bundle(tmp_path)
    spec = catalogue.BundleSpec("demo", "log4j2", daemons={})
    assert jars.logging_conflicts(bundle, spec) == []
    _jar(
        bundle / "lib" / "logback-classic-1.3.15.jar",
        "META-INF/services/org.slf4j.spi.SLF4JServiceProvider",
    )
    conflicts = jars.logging_conflicts(bundle, spec)
    assert len(conflicts) == 1
    assert "logback-classic-1.3.15.jar" in conflicts[0]


def test_log4j1_api_twice_is_a_conflict(tmp_path: Path) -> None:
    bundle = _small_bundle(tmp_path)
    _jar(bundle / "lib" / "log4j-over-slf4j-2.0.17.jar", "org/apache/log4j/Logger.class")
    _jar(bundle / "lib" / "reload4j-1.2.22.jar", "org/apache/log4j/Logger.class")
    spec = catalogue.BundleSpec("demo", "log4j2", daemons={})
    assert any("log4j 1.x API twice" in c for c in jars.logging_conflicts(bundle, spec))


def test_netty_native_library_of_another_version_is_a_mismatch(tmp_path: Path) -> None:
    bundle = _small_bundle(tmp_path)
    spec = catalogue.BundleSpec("demo", "log4j2", daemons={})
    _jar(bundle / "lib" / "netty-transport-classes-epoll-4.1.105.Final.jar", "io/netty/E.class")
    _jar(bundle / "lib" / "netty-transport-native-epoll-4.1.105.Final.jar", "META-INF/x")
    same = bundle / "lib" / "netty-transport-native-epoll-4.1.105.Final-linux-x86_64.jar"
    _jar(same, "META-INF/native/libnetty_transport_native_epoll_x86_64.so")
    assert jars.netty_native_mismatches(bundle, spec) == []
    # The HBase bundle's mix before its exclusions: hadoop-hdfs's netty-all 4.1.77 natives.
    _jar(bundle / "lib" / "netty-transport-native-epoll-4.1.77.Final-linux-x86_64.jar", "x.so")
    _jar(bundle / "lib" / "netty-transport-native-kqueue-4.1.77.Final-osx-x86_64.jar", "y.jnilib")
    assert jars.netty_native_mismatches(bundle, spec) == [
        "lib: netty-transport-native-epoll-4.1.77.Final-linux-x86_64.jar beside"
        " netty-transport-classes-epoll 4.1.105.Final",
        "lib: netty-transport-native-kqueue-4.1.77.Final-osx-x86_64.jar beside"
        " netty-transport-classes-kqueue (none)",
    ]


def test_daemon_command_fills_placeholders(tmp_path: Path) -> None:
    bundle = tmp_path / "zookeeper-3.9.5"
    bundle.mkdir()
    (bundle / "bundle.json").write_text(json.dumps({"component": "zookeeper"}))
    command = catalogue.daemon_command(
        bundle, "server", conf_dir=tmp_path / "conf", log_dir=tmp_path / "logs"
    )
    assert command[0] == "java"
    assert f"-Dzookeeper.log.dir={tmp_path / 'logs'}" in command
    classpath = command[command.index("-cp") + 1]
    assert classpath == f"{tmp_path / 'conf'}:{bundle}/lib/*"
    assert command[-2:] == [
        "org.apache.zookeeper.server.quorum.QuorumPeerMain",
        f"{tmp_path / 'conf'}/zoo.cfg",
    ]
    assert not any("{" in part for part in command)
