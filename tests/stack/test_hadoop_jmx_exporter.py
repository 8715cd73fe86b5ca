"""The JMX exporter agent on HDFS's NameNode and YARN's ResourceManager: the hdfs and yarn roles'
configure tasks (the ones site.yml runs) render a private NameNode and ResourceManager with
`<role>_jmx_exporter_enabled` on, from the Hadoop bundle, on free ports; the NameNode is formatted
in a temporary directory, both run from their rendered launchers, and each `/metrics` serves the
names the alert rules use (docs/monitoring.md) with healthy values: the lone NameNode active and
out of safe mode, the lone ResourceManager active. Safe mode entered by `dfsadmin` shows at once
(NoActiveNameNode counts an active NameNode in safe mode as not active)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from jmx_exporter_metrics import rule_names, scrape, scraped
from local_processes import clean_environment, free_port, running, wait_until
from render_playbook import run_render_playbook

from lendstream.stack.artifacts.bundles import bundle_path

pytestmark = pytest.mark.stack

RENDER_PLAYBOOK = Path(__file__).with_name("render-hadoop-exporter.yml")
PLAYBOOK_TIMEOUT_S = 120.0
FORMAT_TIMEOUT_S = 60.0
START_TIMEOUT_S = 90.0
JAVA = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
DFSADMIN = "org.apache.hadoop.hdfs.tools.DFSAdmin"

NAMENODE_NAMES = {
    "hdfs_namenode_active",
    "hdfs_namenode_safemode",
    "hdfs_namenode_datanodes_live",
    "hdfs_namenode_datanodes_dead",
    "hdfs_namenode_blocks_missing",
    "hdfs_namenode_blocks_under_replicated",
}
RESOURCEMANAGER_NAMES = {
    "yarn_resourcemanager_active",
    "yarn_resourcemanager_nodemanagers_active",
    "yarn_resourcemanager_nodemanagers_lost",
    "yarn_resourcemanager_nodemanagers_unhealthy",
}


def test_namenode_and_resourcemanager_expose_the_alert_rules_names(tmp_path: Path) -> None:
    render_dir = tmp_path / "hadoop"
    bundle = bundle_path("hadoop")
    namenode_port, resourcemanager_port = free_port(), free_port()
    run_render_playbook(
        RENDER_PLAYBOOK,
        {
            "render_dir": str(render_dir),
            "bundle_dir": str(bundle),
            "namenode_rpc_port": free_port(),
            "namenode_http_port": free_port(),
            "namenode_exporter_port": namenode_port,
            "resourcemanager_ports": {
                name: free_port() for name in ("rpc", "scheduler", "tracker", "admin", "http")
            },
            "resourcemanager_exporter_port": resourcemanager_port,
        },
        timeout_s=PLAYBOOK_TIMEOUT_S,
    )
    conf = render_dir / "conf"
    namenode = render_dir / "hdfs/bin/hdfs-namenode"
    resourcemanager = render_dir / "yarn/bin/yarn-resourcemanager"
    for launcher, daemon, port in (
        (namenode, "namenode", namenode_port),
        (resourcemanager, "resourcemanager", resourcemanager_port),
    ):
        assert f"=127.0.0.1:{port}:{conf}/jmx_exporter-{daemon}.yml" in launcher.read_text()
        assert "Ansible managed" in (conf / f"jmx_exporter-{daemon}.yml").read_text()
    for directory in ("hdfs/log", "hdfs/tmp", "yarn/log"):
        (render_dir / directory).mkdir(parents=True, exist_ok=True)

    environment = clean_environment({})
    formatted = subprocess.run(
        [str(namenode), "-format", "-nonInteractive", "-clusterId", "test"],
        env=environment,
        capture_output=True,
        timeout=FORMAT_TIMEOUT_S,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stdout[-3000:]
    namenode_log = tmp_path / "namenode.log"
    resourcemanager_log = tmp_path / "resourcemanager.log"
    with (
        running([str(namenode)], namenode_log, env=environment) as namenode_process,
        running(
            [str(resourcemanager)], resourcemanager_log, env=environment
        ) as resourcemanager_process,
    ):
        wait_until(
            scraped(namenode_port, lambda metrics: metrics.get("hdfs_namenode_safemode") == 0),
            START_TIMEOUT_S,
            "the NameNode's /metrics out of safe mode",
            namenode_process,
            namenode_log,
        )
        wait_until(
            scraped(resourcemanager_port, lambda m: m.get("yarn_resourcemanager_active") == 1),
            START_TIMEOUT_S,
            "the ResourceManager's /metrics with yarn_resourcemanager_active 1",
            resourcemanager_process,
            resourcemanager_log,
        )
        namenode_metrics = scrape(namenode_port)
        resourcemanager_metrics = scrape(resourcemanager_port)
        # Safe mode on the active NameNode: still active by its HA state, in safe mode by FSState.
        entered = subprocess.run(
            [JAVA, "-Xmx128m", "-cp", f"{conf}:{bundle}/lib/*", DFSADMIN, "-safemode", "enter"],
            env=environment,
            capture_output=True,
            timeout=FORMAT_TIMEOUT_S,
            check=False,
        )
        assert b"Safe mode is ON" in entered.stdout, entered.stdout + entered.stderr
        in_safe_mode = scrape(namenode_port)

    assert rule_names(namenode_metrics) == NAMENODE_NAMES
    assert namenode_metrics["hdfs_namenode_active"] == 1
    assert namenode_metrics["hdfs_namenode_safemode"] == 0
    assert namenode_metrics["hdfs_namenode_datanodes_live"] == 0  # none started
    assert namenode_metrics["hdfs_namenode_datanodes_dead"] == 0
    assert namenode_metrics["hdfs_namenode_blocks_missing"] == 0
    assert namenode_metrics["hdfs_namenode_blocks_under_replicated"] == 0
    assert (in_safe_mode["hdfs_namenode_active"], in_safe_mode["hdfs_namenode_safemode"]) == (1, 1)
    assert rule_names(resourcemanager_metrics) == RESOURCEMANAGER_NAMES
    assert resourcemanager_metrics["yarn_resourcemanager_active"] == 1
    assert resourcemanager_metrics["yarn_resourcemanager_nodemanagers_active"] == 0  # none started
    assert resourcemanager_metrics["yarn_resourcemanager_nodemanagers_lost"] == 0
    assert resourcemanager_metrics["yarn_resourcemanager_nodemanagers_unhealthy"] == 0
