"""The hadoop bundle: on exactly the HDFS/YARN nodes, unpacked from a verified tarball, with its
current symlink."""

from __future__ import annotations

import re
from typing import Any

import pytest
from infra_cluster import in_group

testinfra_hosts = ["ansible://all"]

HADOOP_GROUPS = (
    "hdfs_namenode",
    "hdfs_secondary",
    "hdfs_journalnode",
    "hdfs_datanode",
    "yarn_resourcemanager",
    "yarn_nodemanager",
)
INSTALL_ROOT = "/opt/lendstream"
STAGING_DIR = "/var/cache/lendstream/bundles"


def _runs_hadoop(host: Any) -> bool:
    return any(in_group(host, group) for group in HADOOP_GROUPS)


def test_hadoop_bundle_only_where_a_hadoop_daemon_runs(host: Any) -> None:
    assert host.file(f"{INSTALL_ROOT}/hadoop").exists == _runs_hadoop(host)


@pytest.mark.in_groups(*HADOOP_GROUPS)
def test_current_symlink_points_at_an_unpacked_version(host: Any) -> None:
    link = host.file(f"{INSTALL_ROOT}/hadoop")
    assert link.is_symlink
    target = link.linked_to
    assert re.fullmatch(rf"{INSTALL_ROOT}/hadoop-[0-9][\w.-]*", target), target
    assert host.file(f"{target}/lib").is_directory
    jars = host.run(f"ls {target}/lib").stdout.split()
    assert any(name.startswith("hadoop-hdfs-") for name in jars)
    assert any(name.startswith("hadoop-yarn-server-nodemanager-") for name in jars)


@pytest.mark.in_groups(*HADOOP_GROUPS)
def test_unpacked_bundle_matches_the_pushed_tarballs_digest(host: Any) -> None:
    target = host.file(f"{INSTALL_ROOT}/hadoop").linked_to
    version_dir = target.rsplit("/", 1)[1]
    tarball = host.file(f"{STAGING_DIR}/{version_dir}.tar.gz")
    assert tarball.exists
    digest = host.run(f"sha256sum {tarball.path}").stdout.split()[0]
    assert host.file(f"{target}/.lendstream-bundle-{digest}").exists


@pytest.mark.in_groups(*HADOOP_GROUPS)
def test_bundle_files_match_its_manifest(host: Any) -> None:
    target = host.file(f"{INSTALL_ROOT}/hadoop").linked_to
    result = host.run(f"cd {target} && sha256sum --quiet --check MANIFEST.sha256")
    assert result.rc == 0, result.stdout + result.stderr
