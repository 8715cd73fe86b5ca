"""The producer of the pipeline (playbooks/pipeline.yml): running and enabled as its own user,
never restarted by systemd since its start, its state directory its own, reaching the applicant
API and every Kafka broker."""

from __future__ import annotations

from typing import Any

import pytest
from infra_cluster import KAFKA_BROKER, groups, in_group

# Every node: the unit runs on the producer hosts and nowhere else; the rest only on them.
testinfra_hosts = ["ansible://all"]
pytestmark = pytest.mark.in_groups("producer")

API_PORT = 8081
SERVICE_USER = "lendstream-producer"
STATE_DIR = "/var/lib/lendstream/producer"


@pytest.mark.in_groups("all")
def test_producer_service(host: Any) -> None:
    service = host.service("lendstream-producer")
    if in_group(host, "producer"):
        assert service.is_running
        assert service.is_enabled
    else:
        assert not service.is_running


def test_never_restarted_by_systemd(host: Any) -> None:
    shown = host.check_output("systemctl show lendstream-producer --property=NRestarts")
    assert shown.strip() == "NRestarts=0"


def test_runs_as_its_own_user(host: Any) -> None:
    processes = host.process.filter(user=SERVICE_USER)
    assert any("lendstream.services.producer" in process.args for process in processes)


def test_state_directory_is_its_own(host: Any) -> None:
    state = host.file(STATE_DIR)
    assert state.is_directory
    assert state.user == SERVICE_USER
    assert state.mode == 0o750, oct(state.mode)


def test_node_reaches_the_api_and_every_broker(host: Any) -> None:
    for api in groups(host)["applicant_api"]:
        assert host.addr(api).port(API_PORT).is_reachable, api
    for broker in groups(host)["kafka_broker"]:
        assert host.addr(broker).port(KAFKA_BROKER).is_reachable, broker
