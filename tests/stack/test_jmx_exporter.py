"""The JMX exporter agent on the single-machine stack: local-stack.yml renders ZooKeeper and Kafka
with `<role>_jmx_exporter_enabled` on (the same role templates as the cluster), their launchers
start them as supervisord does (cwd the component's directory, `<component>/bin/<program>`), and
each `/metrics` serves the names the alert rules use (docs/monitoring.md) with healthy values:
a standalone ZooKeeper serves (1), the combined KRaft node has no under-replicated or offline
partition and, once registered, no fenced broker; the lone HBase master is active and counts no
dead RegionServer; the Storm supervisor's agent answers (nimbus runs without one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jmx_exporter_metrics import rule_names, scrape, scraped
from local_processes import clean_environment, free_port, running, wait_until

from lendstream.stack.layout import StackLayout, StackPorts
from lendstream.stack.render import render_vars, run_render_playbook

pytestmark = pytest.mark.stack

PORT_OFFSET = 1020  # ZooKeeper 3201, Kafka 10112/10113: clear of the shared stack's ports
PLAYBOOK_TIMEOUT_S = 300.0
START_TIMEOUT_S = 120.0

ZOOKEEPER_NAMES = {"zookeeper_quorum_member_serving"}
KAFKA_NAMES = {
    "kafka_server_replicamanager_underreplicatedpartitions",
    "kafka_controller_kafkacontroller_offlinepartitionscount",
    "kafka_controller_kafkacontroller_fencedbrokercount",
}


def _render(layout: StackLayout, exporter_vars: dict[str, object]) -> None:
    roles = sorted({name.split("_jmx_exporter_")[0] for name in exporter_vars})
    extra = render_vars(layout, roles)
    extra.update(exporter_vars)
    extra.update({f"{role}_jmx_exporter_enabled": True for role in roles})
    run_render_playbook(layout, extra)


def test_zookeeper_and_kafka_expose_the_alert_rules_names(tmp_path: Path) -> None:
    layout = StackLayout(root=tmp_path / "stack", ports=StackPorts().shifted(PORT_OFFSET))
    layout.root.mkdir()
    layout.logs.mkdir(parents=True, exist_ok=True)
    exporter_ports = {"zookeeper": free_port(), "kafka": free_port()}
    _render(layout, {f"{role}_jmx_exporter_port": p for role, p in exporter_ports.items()})
    for role, port in exporter_ports.items():
        launcher = layout.launcher(role, f"{role}-server").read_text()
        rules = layout.component_dir(role) / "conf" / "jmx_exporter.yml"
        assert rules.is_file()
        assert "-javaagent:" in launcher
        assert f"=127.0.0.1:{port}:{rules}" in launcher

    environment = clean_environment({})
    zookeeper_log = layout.program_log("zookeeper-server")
    kafka_log = layout.program_log("kafka-server")
    with (
        running(
            [str(layout.launcher("zookeeper", "zookeeper-server"))],
            zookeeper_log,
            env=environment,
            cwd=layout.component_dir("zookeeper"),
        ) as zookeeper,
        running(
            [str(layout.launcher("kafka", "kafka-server"))],
            kafka_log,
            env=environment,
            cwd=layout.component_dir("kafka"),
        ) as kafka,
    ):
        zookeeper_port = exporter_ports["zookeeper"]
        wait_until(
            scraped(zookeeper_port, lambda metrics: set(metrics) >= ZOOKEEPER_NAMES),
            START_TIMEOUT_S,
            "ZooKeeper's /metrics with zookeeper_quorum_member_serving",
            zookeeper,
            zookeeper_log,
        )
        kafka_port = exporter_ports["kafka"]
        # The broker registers fenced and is unfenced a few seconds later, and a busy machine can
        # fence it again for a missed heartbeat: wait for a scrape with every name at 0.
        kafka_metrics: dict[str, float] = {}

        def kafka_healthy() -> bool:
            metrics = scrape(kafka_port)
            if not (set(metrics) >= KAFKA_NAMES and all(metrics[n] == 0 for n in KAFKA_NAMES)):
                return False
            kafka_metrics.update(metrics)
            return True

        wait_until(
            kafka_healthy,
            START_TIMEOUT_S,
            "Kafka's /metrics with no under-replicated or offline partition and no fenced broker",
            kafka,
            kafka_log,
        )
        zookeeper_metrics = scrape(zookeeper_port)

    # A standalone server (one member listed) registers StandaloneServer_port<N>: it serves.
    assert zookeeper_metrics["zookeeper_quorum_member_serving"] == 1
    # Only what the rules whitelist, besides the agent's own jvm_/process_/jmx_ metrics.
    for metrics, own in ((zookeeper_metrics, ZOOKEEPER_NAMES), (kafka_metrics, KAFKA_NAMES)):
        assert rule_names(metrics) - own == set()


HBASE_MASTER_NAMES = {"hbase_master_active", "hbase_master_regionservers_dead"}


def test_hbase_master_and_regionserver_expose_the_alert_rules_names(tmp_path: Path) -> None:
    layout = StackLayout(root=tmp_path / "stack", ports=StackPorts().shifted(PORT_OFFSET))
    layout.root.mkdir()
    layout.logs.mkdir(parents=True, exist_ok=True)
    zookeeper_port, master_port, regionserver_port = free_port(), free_port(), free_port()
    _render(
        layout,
        {
            "zookeeper_jmx_exporter_port": zookeeper_port,
            "hbase_jmx_exporter_master_port": master_port,
            "hbase_jmx_exporter_regionserver_port": regionserver_port,
        },
    )
    hbase_conf = layout.component_dir("hbase") / "conf"
    for daemon, port in (("master", master_port), ("regionserver", regionserver_port)):
        launcher = layout.launcher("hbase", f"hbase-{daemon}").read_text()
        assert f"=127.0.0.1:{port}:{hbase_conf}/jmx_exporter-{daemon}.yml" in launcher
    assert "-javaagent:" not in layout.launcher("hbase", "hbase-thrift").read_text()

    environment = clean_environment({})
    logs = {
        program: layout.program_log(program)
        for program in ("zookeeper-server", "hbase-master", "hbase-regionserver")
    }
    with (
        running(
            [str(layout.launcher("zookeeper", "zookeeper-server"))],
            logs["zookeeper-server"],
            env=environment,
            cwd=layout.component_dir("zookeeper"),
        ) as zookeeper,
    ):
        wait_until(
            scraped(
                zookeeper_port, lambda metrics: metrics.get("zookeeper_quorum_member_serving") == 1
            ),
            START_TIMEOUT_S,
            "ZooKeeper serving",
            zookeeper,
            logs["zookeeper-server"],
        )
        with (
            running(
                [str(layout.launcher("hbase", "hbase-master"))],
                logs["hbase-master"],
                env=environment,
                cwd=layout.component_dir("hbase"),
            ) as master,
            running(
                [str(layout.launcher("hbase", "hbase-regionserver"))],
                logs["hbase-regionserver"],
                env=environment,
                cwd=layout.component_dir("hbase"),
            ) as regionserver,
        ):
            wait_until(
                scraped(master_port, lambda metrics: metrics.get("hbase_master_active") == 1),
                START_TIMEOUT_S,
                "the HBase master's /metrics with hbase_master_active 1",
                master,
                logs["hbase-master"],
            )
            wait_until(
                scraped(regionserver_port, lambda metrics: "hbase_regionserver_regions" in metrics),
                START_TIMEOUT_S,
                "the RegionServer's /metrics",
                regionserver,
                logs["hbase-regionserver"],
            )
            master_metrics = scrape(master_port)

    assert master_metrics["hbase_master_active"] == 1
    assert master_metrics["hbase_master_regionservers_dead"] == 0
    assert rule_names(master_metrics) - HBASE_MASTER_NAMES == set()


def test_storm_supervisor_serves_metrics_and_nimbus_runs_without_the_agent(
    tmp_path: Path,
) -> None:
    layout = StackLayout(root=tmp_path / "stack", ports=StackPorts().shifted(PORT_OFFSET))
    layout.root.mkdir()
    layout.logs.mkdir(parents=True, exist_ok=True)
    zookeeper_port, supervisor_port = free_port(), free_port()
    _render(
        layout,
        {"zookeeper_jmx_exporter_port": zookeeper_port, "storm_jmx_exporter_port": supervisor_port},
    )
    assert "-javaagent:" not in layout.launcher("storm", "storm-nimbus").read_text()
    environment = clean_environment({})
    zookeeper_log = layout.program_log("zookeeper-server")
    supervisor_log = layout.program_log("storm-supervisor")
    with (
        running(
            [str(layout.launcher("zookeeper", "zookeeper-server"))],
            zookeeper_log,
            env=environment,
            cwd=layout.component_dir("zookeeper"),
        ),
        running(
            [str(layout.launcher("storm", "storm-supervisor"))],
            supervisor_log,
            env=environment,
            cwd=layout.component_dir("storm"),
        ) as supervisor,
    ):
        wait_until(
            scraped(supervisor_port, lambda metrics: "storm_supervisor_uptime_seconds" in metrics),
            START_TIMEOUT_S,
            "the supervisor's /metrics",
            supervisor,
            supervisor_log,
        )
        supervisor_metrics = scrape(supervisor_port)
    assert 0 < supervisor_metrics["storm_supervisor_uptime_seconds"] < START_TIMEOUT_S
    assert supervisor_metrics["jvm_threads_current"] > 0
