"""The JMX exporter agent on every HDFS and YARN daemon: the hdfs and yarn roles' configure tasks
(the ones site.yml runs) render a private NameNode, DataNode, JournalNode, ResourceManager and
NodeManager with `<role>_jmx_exporter_enabled` on, from the Hadoop bundle, on free ports; the
NameNode writes its edits to the JournalNode (as an HA pair does on the cluster), is formatted in
a temporary directory, and all run from their rendered launchers. Each `/metrics` serves the names
its rules file exports (docs/monitoring.md) with healthy values: the lone NameNode active, out of
safe mode, with the DataNode live; the lone ResourceManager active with the NodeManager running;
the DataNode with capacity and no failed volume; the JournalNode's journal (labelled with its id)
written by the NameNode and not lagging; the NodeManager with no bad directory. Safe mode entered by
`dfsadmin` shows at once (NoActiveNameNode counts an active NameNode in safe mode as not
active)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest
from jmx_exporter_metrics import rule_names, scrape, scrape_by_label, scraped
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
# The journal id the render playbook gives the NameNode's qjournal:// edits directory.
JOURNAL = "test"

NAMENODE_NAMES = {
    "hdfs_namenode_active",
    "hdfs_namenode_safemode",
    "hdfs_namenode_datanodes_live",
    "hdfs_namenode_datanodes_dead",
    "hdfs_namenode_blocks_missing",
    "hdfs_namenode_blocks_under_replicated",
}
DATANODE_NAMES = {
    "hdfs_datanode_volumes_failed",
    "hdfs_datanode_capacity_bytes",
    "hdfs_datanode_capacity_remaining_bytes",
    "hdfs_datanode_dfs_used_bytes",
}
JOURNALNODE_NAMES = {
    "hdfs_journalnode_last_written_txid",
    "hdfs_journalnode_lag_txns",
    "hdfs_journalnode_txns_written_total",
}
RESOURCEMANAGER_NAMES = {
    "yarn_resourcemanager_active",
    "yarn_resourcemanager_nodemanagers_active",
    "yarn_resourcemanager_nodemanagers_lost",
    "yarn_resourcemanager_nodemanagers_unhealthy",
}
NODEMANAGER_NAMES = {
    "yarn_nodemanager_containers_running",
    "yarn_nodemanager_containers_failed_total",
    "yarn_nodemanager_local_dirs_bad",
    "yarn_nodemanager_log_dirs_bad",
}
DAEMONS = {
    "namenode": "hdfs",
    "datanode": "hdfs",
    "journalnode": "hdfs",
    "resourcemanager": "yarn",
    "nodemanager": "yarn",
}


def _render(tmp_path: Path) -> tuple[Path, dict[str, Path], dict[str, int]]:
    """The roles' configure tasks render every daemon on free ports; the configuration directory,
    each daemon's launcher and its exporter's port."""
    render_dir = tmp_path / "hadoop"
    bundle = bundle_path("hadoop")
    hdfs_ports = {
        name: free_port()
        for name in (
            "namenode_rpc",
            "namenode_http",
            "datanode",
            "datanode_http",
            "datanode_ipc",
            "journalnode_rpc",
            "journalnode_http",
        )
    }
    yarn_ports = {
        name: free_port()
        for name in (
            "rpc",
            "scheduler",
            "tracker",
            "admin",
            "http",
            "nodemanager",
            "localizer",
            "nodemanager_http",
        )
    }
    exporter = {daemon: free_port() for daemon in DAEMONS}
    run_render_playbook(
        RENDER_PLAYBOOK,
        {
            "render_dir": str(render_dir),
            "bundle_dir": str(bundle),
            "hdfs_ports": hdfs_ports,
            "yarn_ports": yarn_ports,
            "exporter_ports": exporter,
        },
        timeout_s=PLAYBOOK_TIMEOUT_S,
    )
    conf = render_dir / "conf"
    launchers = {
        daemon: render_dir / f"{role}/bin/{role}-{daemon}" for daemon, role in DAEMONS.items()
    }
    for daemon, launcher in launchers.items():
        rules = f"{conf}/jmx_exporter-{daemon}.yml"
        assert f"=127.0.0.1:{exporter[daemon]}:{rules}" in launcher.read_text()
        assert "Ansible managed" in Path(rules).read_text()
    for directory in ("hdfs/log", "hdfs/tmp", "yarn/log"):
        (render_dir / directory).mkdir(parents=True, exist_ok=True)

    return conf, launchers, exporter


def test_hadoop_daemons_expose_their_rules_names(tmp_path: Path) -> None:
    conf, launchers, exporter = _render(tmp_path)
    bundle = bundle_path("hadoop")
    environment = clean_environment({})
    logs = {daemon: tmp_path / f"{daemon}.log" for daemon in DAEMONS}

    def dfsadmin(*arguments: str) -> bytes:
        result = subprocess.run(
            [JAVA, "-Xmx128m", "-cp", f"{conf}:{bundle}/lib/*", DFSADMIN, *arguments],
            env=environment,
            capture_output=True,
            timeout=FORMAT_TIMEOUT_S,
            check=False,
        )
        return result.stdout + result.stderr

    with ExitStack() as stack:
        processes: dict[str, subprocess.Popen[bytes]] = {}

        def start(daemon: str) -> None:
            processes[daemon] = stack.enter_context(
                running([str(launchers[daemon])], logs[daemon], env=environment)
            )

        def wait_for(daemon: str, what: str, wanted: Callable[[dict[str, float]], bool]) -> None:
            wait_until(
                scraped(exporter[daemon], wanted),
                START_TIMEOUT_S,
                f"the {daemon}'s /metrics with {what}",
                processes[daemon],
                logs[daemon],
            )

        # The JournalNode first: formatting the NameNode formats its journal too.
        for daemon in ("journalnode", "resourcemanager", "nodemanager"):
            start(daemon)
        wait_for("journalnode", "the agent answering", bool)
        formatted = subprocess.run(
            [str(launchers["namenode"]), "-format", "-nonInteractive", "-clusterId", "test"],
            env=environment,
            capture_output=True,
            timeout=FORMAT_TIMEOUT_S,
            check=False,
        )
        assert formatted.returncode == 0, formatted.stderr.decode(errors="replace")[-3000:]
        for daemon in ("namenode", "datanode"):
            start(daemon)
        wait_for(
            "namenode",
            "out of safe mode and the DataNode live",
            lambda m: (
                m.get("hdfs_namenode_safemode") == 0 and m.get("hdfs_namenode_datanodes_live") == 1
            ),
        )
        wait_for(
            "resourcemanager",
            "yarn_resourcemanager_active 1 and the NodeManager running",
            lambda m: (
                m.get("yarn_resourcemanager_active") == 1
                and m.get("yarn_resourcemanager_nodemanagers_active") == 1
            ),
        )
        # The active NameNode's first segment reaches the JournalNode's metrics a moment later.
        wait_until(
            lambda: (
                scrape_by_label(exporter["journalnode"], "journal")
                .get("hdfs_journalnode_last_written_txid", {})
                .get(JOURNAL, 0)
                >= 1
            ),
            START_TIMEOUT_S,
            "the journalnode's /metrics with the NameNode's first transaction written",
            processes["journalnode"],
            logs["journalnode"],
        )
        metrics = {daemon: scrape(port) for daemon, port in exporter.items()}
        journal = scrape_by_label(exporter["journalnode"], "journal")
        # Safe mode on the active NameNode: still active by its HA state, in safe mode by FSState.
        assert b"Safe mode is ON" in dfsadmin("-safemode", "enter")
        in_safe_mode = scrape(exporter["namenode"])

    _check_hdfs(metrics, journal, in_safe_mode)
    _check_yarn(metrics)


def _check_hdfs(
    metrics: dict[str, dict[str, float]],
    journal: dict[str, dict[str, float]],
    in_safe_mode: dict[str, float],
) -> None:
    namenode = metrics["namenode"]
    assert rule_names(namenode) == NAMENODE_NAMES
    assert namenode["hdfs_namenode_active"] == 1
    assert namenode["hdfs_namenode_safemode"] == 0
    assert namenode["hdfs_namenode_datanodes_live"] == 1
    assert namenode["hdfs_namenode_datanodes_dead"] == 0
    assert namenode["hdfs_namenode_blocks_missing"] == 0
    assert namenode["hdfs_namenode_blocks_under_replicated"] == 0
    assert (in_safe_mode["hdfs_namenode_active"], in_safe_mode["hdfs_namenode_safemode"]) == (1, 1)

    datanode = metrics["datanode"]
    assert rule_names(datanode) == DATANODE_NAMES
    assert datanode["hdfs_datanode_volumes_failed"] == 0
    assert (
        0
        < datanode["hdfs_datanode_capacity_remaining_bytes"]
        <= datanode["hdfs_datanode_capacity_bytes"]
    )
    assert datanode["hdfs_datanode_dfs_used_bytes"] >= 0

    # The JournalNode's names all carry the journal's id.
    assert rule_names(metrics["journalnode"]) == set()
    assert set(journal) == JOURNALNODE_NAMES
    assert all(set(values) == {JOURNAL} for values in journal.values())
    assert journal["hdfs_journalnode_last_written_txid"][JOURNAL] >= 1
    assert journal["hdfs_journalnode_lag_txns"][JOURNAL] == 0


def _check_yarn(metrics: dict[str, dict[str, float]]) -> None:
    resourcemanager = metrics["resourcemanager"]
    assert rule_names(resourcemanager) == RESOURCEMANAGER_NAMES
    assert resourcemanager["yarn_resourcemanager_active"] == 1
    assert resourcemanager["yarn_resourcemanager_nodemanagers_active"] == 1
    assert resourcemanager["yarn_resourcemanager_nodemanagers_lost"] == 0
    assert resourcemanager["yarn_resourcemanager_nodemanagers_unhealthy"] == 0

    nodemanager = metrics["nodemanager"]
    assert rule_names(nodemanager) == NODEMANAGER_NAMES
    assert nodemanager["yarn_nodemanager_containers_running"] == 0  # no application submitted
    assert nodemanager["yarn_nodemanager_containers_failed_total"] == 0
    assert nodemanager["yarn_nodemanager_local_dirs_bad"] == 0
    assert nodemanager["yarn_nodemanager_log_dirs_bad"] == 0
