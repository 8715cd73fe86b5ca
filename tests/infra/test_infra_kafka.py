"""Kafka (KRaft): controllers and brokers on their hosts, every node registered in the quorum."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
from infra_cluster import (
    KAFKA_BROKER,
    KAFKA_CONTROLLER,
    KAFKA_LIB,
    assert_service,
    groups,
    in_group,
    pipeline_tls,
)

testinfra_hosts = ["ansible://all"]
# With lendstream_tls the broker port is SASL_SSL: the role's own admin client settings (root's).
ADMIN_CLIENT_CONFIG = "/etc/lendstream/kafka/client/admin.properties"


def test_kafka_runs_exactly_on_its_hosts(host: Any) -> None:
    ports = (KAFKA_BROKER,) * in_group(host, "kafka_broker") + (KAFKA_CONTROLLER,) * in_group(
        host, "kafka_controller"
    )
    if ports:
        assert_service(host, "lendstream-kafka", ports)
    else:
        assert not host.service("lendstream-kafka").is_running


@pytest.mark.cluster_wide
def test_every_broker_and_controller_is_registered(host: Any) -> None:
    broker = groups(host)["kafka_broker"][0]
    secured = pipeline_tls(host)
    command = (
        f"java -cp {shlex.quote(KAFKA_LIB + '/*')} org.apache.kafka.tools.MetadataQuorumCommand "
        f"--bootstrap-server {broker}:{KAFKA_BROKER} "
        + (f"--command-config {ADMIN_CLIENT_CONFIG} " if secured else "")
        + "describe --replication"
    )
    if secured:
        with host.sudo():
            result = host.run(command)
    else:
        result = host.run(command)
    assert result.rc == 0, result.stderr
    node_ids = {int(match) for match in re.findall(r"^(\d+)\s", result.stdout, re.MULTILINE)}
    nodes = set(groups(host)["kafka_broker"]) | set(groups(host)["kafka_controller"])
    assert len(node_ids) == len(nodes), result.stdout
    assert "Leader" in result.stdout


def test_node_reaches_every_broker(host: Any) -> None:
    for broker in groups(host)["kafka_broker"]:
        assert host.addr(broker).port(KAFKA_BROKER).is_reachable, broker
