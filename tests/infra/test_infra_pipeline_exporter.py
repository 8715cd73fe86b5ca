"""The pipeline exporter (playbooks/pipeline.yml, beside the producer): running and enabled as its
own user, never restarted by systemd, serving /metrics on the node's cluster address only with a
successful read of Kafka, the topology's lag by partition and its dead letters by stage."""

from __future__ import annotations

from typing import Any

import pytest
from infra_cluster import address, assert_service, in_group

testinfra_hosts = ["ansible://all"]
pytestmark = pytest.mark.in_groups("producer")

UNIT = "lendstream-pipeline-exporter"
SERVICE_USER = "lendstream-pipeline-exporter"
PORT = 8093


@pytest.mark.in_groups("all")
def test_pipeline_exporter_service(host: Any) -> None:
    if in_group(host, "producer"):
        assert_service(host, UNIT, (PORT,))
    else:
        assert not host.service(UNIT).is_running


def test_never_restarted_by_systemd(host: Any) -> None:
    assert host.check_output(f"systemctl show {UNIT} --property=NRestarts").strip() == "NRestarts=0"


def test_runs_as_its_own_user(host: Any) -> None:
    processes = host.process.filter(user=SERVICE_USER)
    assert any("lendstream.services.pipeline_exporter" in process.args for process in processes)


def test_serves_on_the_cluster_address_only(host: Any) -> None:
    sockets = [s for s in host.socket.get_listening_sockets() if s.endswith(f":{PORT}")]
    assert sockets, f"nothing listens on {PORT}"
    assert not any(s.startswith(("tcp://0.0.0.0:", "tcp://:::")) for s in sockets), sockets


def test_metrics_show_kafka_read_lag_and_dead_letters(host: Any) -> None:
    url = f"http://{address(host)}:{PORT}/metrics"
    fetch = f"import urllib.request as r; print(r.urlopen('{url}', timeout=10).read().decode())"
    metrics = host.check_output(f'python3 -c "{fetch}"')
    assert "lendstream_pipeline_exporter_kafka_up 1.0" in metrics
    lag = 'lendstream_pipeline_consumer_lag{partition="0",topic="lendstream.applicants"}'
    assert lag in metrics
    for stage in ("parse", "clean", "score"):
        assert f'lendstream_pipeline_dead_letters_total{{stage="{stage}"}}' in metrics, stage
