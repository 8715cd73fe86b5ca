"""The monitoring roles' rendered files: Prometheus's configuration valid for promtool with scrape
targets from the ci inventory's groups, Alertmanager's valid for amtool, the exporters' flags."""

from __future__ import annotations

import subprocess

import yaml
from monitoring_files import RenderedMonitoring, debian_tool, unit_flags

from lendstream.cluster import load_cluster

TOOL_TIMEOUT_S = 60


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
    )


def test_promtool_accepts_the_prometheus_configuration_and_its_rules(
    rendered_monitoring: RenderedMonitoring,
) -> None:
    result = _run(
        debian_tool("promtool"),
        "check",
        "config",
        str(rendered_monitoring.prometheus_dir / "prometheus.yml"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rule_files = sorted(path.name for path in rendered_monitoring.rules_dir.glob("*.yml"))
    for name in rule_files:
        assert f"SUCCESS: {name}" in result.stdout or name in result.stdout, result.stdout


def test_scrape_targets_come_from_the_inventory_groups(
    rendered_monitoring: RenderedMonitoring,
) -> None:
    config = yaml.safe_load((rendered_monitoring.prometheus_dir / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: [
            target for static in job["static_configs"] for target in static["targets"]
        ]
        for job in config["scrape_configs"]
    }
    groups = load_cluster().layouts["ci"].groups()
    every_node = [node.name for node in load_cluster().layouts["ci"].nodes]
    (monitoring_host,) = groups["monitoring"]
    assert targets == {
        "node": [f"{host}:9100" for host in every_node],
        "prometheus": [f"{monitoring_host}:9190"],
        "alertmanager": [f"{monitoring_host}:9193"],
        "applicant_api": [f"{host}:8081" for host in groups["applicant_api"]],
        "producer": [f"{host}:8092" for host in groups["producer"]],
        "risk_service": [f"{host}:8090" for host in groups["risk_service"]],
        "pipeline": [f"{host}:8093" for host in groups["producer"]],
        "zookeeper": [f"{host}:7071" for host in groups["zookeeper"]],
        "kafka": [
            f"{host}:7072"
            for host in dict.fromkeys(groups["kafka_controller"] + groups["kafka_broker"])
        ],
        "hdfs_namenode": [f"{host}:7073" for host in groups["hdfs_namenode"]],
        "hdfs_datanode": [f"{host}:7078" for host in groups["hdfs_datanode"]],
        # ci has NameNode HA: its JournalNodes run and are scraped.
        "hdfs_journalnode": [f"{host}:7079" for host in groups["hdfs_journalnode"]],
        "yarn_resourcemanager": [f"{host}:7074" for host in groups["yarn_resourcemanager"]],
        "yarn_nodemanager": [f"{host}:7080" for host in groups["yarn_nodemanager"]],
        "hbase_master": [
            f"{host}:7075"
            for host in dict.fromkeys(groups["hbase_master"] + groups["hbase_backup_master"])
        ],
        "hbase_regionserver": [f"{host}:7076" for host in groups["hbase_regionserver"]],
        "storm_supervisor": [f"{host}:7077" for host in groups["storm_supervisor"]],
        "storm_ui": [f"{host}:8080" for host in groups["storm_ui"]],
    }
    # The ci inventory has lendstream_tls (cluster.yml's tls): the two HTTPS services are scraped
    # over https, verified against the deployment CA; every other job stays plain http.
    assert load_cluster().layouts["ci"].tls
    tls_jobs = {
        job["job_name"]: job.get("tls_config")
        for job in config["scrape_configs"]
        if job["scheme"] == "https"
    }
    assert tls_jobs == {
        "applicant_api": {"ca_file": "/etc/lendstream/tls/ca.crt"},
        "risk_service": {"ca_file": "/etc/lendstream/tls/ca.crt"},
    }
    assert config["alerting"]["alertmanagers"] == [
        {"static_configs": [{"targets": [f"{monitoring_host}:9193"]}]}
    ]
    assert config["rule_files"] == [f"{rendered_monitoring.rules_dir}/*.yml"]


def test_prometheus_listens_on_the_monitoring_node_with_bounded_retention(
    rendered_monitoring: RenderedMonitoring,
) -> None:
    (monitoring_host,) = load_cluster().layouts["ci"].groups()["monitoring"]
    flags = unit_flags(rendered_monitoring.root / "prometheus.env")
    assert f"--web.listen-address={monitoring_host}:9190" in flags
    assert f"--config.file={rendered_monitoring.prometheus_dir}/prometheus.yml" in flags
    assert "--storage.tsdb.retention.time=15d" in flags
    assert "--storage.tsdb.retention.size=2GB" in flags


def test_node_exporter_listens_on_the_node_address_with_the_textfile_collector(
    rendered_monitoring: RenderedMonitoring,
) -> None:
    flags = unit_flags(rendered_monitoring.root / "node-exporter.env")
    assert flags == [
        "--web.listen-address=m1:9100",
        "--collector.textfile.directory=/var/lib/prometheus/node-exporter",
    ]


def test_amtool_accepts_the_default_log_receiver_configuration(
    rendered_monitoring: RenderedMonitoring,
) -> None:
    config_file = rendered_monitoring.alertmanager_dir / "alertmanager.yml"
    result = _run(debian_tool("amtool"), "check-config", str(config_file))
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(config_file.read_text())
    assert config["route"]["receiver"] == "log"
    assert "routes" not in config["route"]
    assert config["receivers"] == [
        {
            "name": "log",
            "webhook_configs": [
                {
                    "url": f"http://127.0.0.1:{rendered_monitoring.log_receiver_port}/",
                    "send_resolved": True,
                }
            ],
        }
    ]


def test_a_configured_receiver_gets_every_alert_and_the_log_keeps_them(
    rendered_monitoring: RenderedMonitoring,
) -> None:
    config_file = rendered_monitoring.root / "alertmanager-elsewhere" / "alertmanager.yml"
    result = _run(debian_tool("amtool"), "check-config", str(config_file))
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(config_file.read_text())
    assert config["route"]["routes"] == [
        {"receiver": "configured", "continue": True},
        {"receiver": "log"},
    ]
    assert config["receivers"][1] == {
        "name": "configured",
        "webhook_configs": [
            {"url": "https://chat.example.org/hooks/alerts", "send_resolved": True}
        ],
    }
    # amtool's routing view: an alert of any labels reaches both receivers.
    routed = _run(
        debian_tool("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={config_file}",
        "alertname=NodeDown",
        "instance=m1:9100",
    )
    assert routed.returncode == 0, routed.stdout + routed.stderr
    assert routed.stdout.split() == ["configured,log"], routed.stdout
