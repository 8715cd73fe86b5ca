"""Several risk services and HBase Thrift servers: which one a bolt task uses, and failover.

The choice is pure logic; the failover is checked against real HTTP servers on loopback (a
refused port, a server answering 503, a server speaking the scoring contract). The HBase writer's
failover needs the stack's Thrift server: tests/topology/test_hbase_writer_on_stack.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_processes import free_port
from scripted_risk_service import TOKEN, ScriptedRiskService

from lendstream.pipeline.endpoints import EndpointRotation, rotated, split_list, task_position
from lendstream.pipeline.scoring import (
    RiskServiceClient,
    RiskServiceSettings,
    ScoringError,
    ScoringRejectedError,
)
from lendstream.pipeline.topology_conf import TopologyConf


def test_lists_are_comma_separated_and_blanks_ignored() -> None:
    assert split_list("http://a:8090, http://b:8090,,http://c:8090 ") == (
        "http://a:8090",
        "http://b:8090",
        "http://c:8090",
    )
    assert split_list("127.0.0.1") == ("127.0.0.1",)
    assert split_list(" , ") == ()


def test_each_task_starts_at_its_own_endpoint_and_keeps_the_others_in_order() -> None:
    endpoints = ("t1", "t2", "t3")
    orders = [rotated(endpoints, task) for task in range(6)]
    assert [order[0] for order in orders] == ["t1", "t2", "t3", "t1", "t2", "t3"]
    assert orders[1] == ("t2", "t3", "t1")
    assert all(sorted(order) == sorted(endpoints) for order in orders)
    assert rotated(("only",), 5) == ("only",)


def test_no_endpoint_or_a_negative_task_is_refused() -> None:
    with pytest.raises(ValueError, match="no endpoint"):
        rotated((), 0)
    with pytest.raises(ValueError, match="negative"):
        rotated(("a",), -1)
    with pytest.raises(ValueError, match="no endpoint"):
        EndpointRotation([])


def test_a_rotation_fails_over_round_the_list() -> None:
    rotation = EndpointRotation(["a", "b", "c"])
    assert rotation.current == "a"
    assert [rotation.fail_over() for _ in range(4)] == ["b", "c", "a", "b"]
    assert rotation.failovers == 4


def test_task_position_counts_only_the_component_own_tasks() -> None:
    context = {
        "componentid": "score",
        "taskid": 9,
        "task->component": {"3": "kafka", "7": "score", "9": "score", "12": "score", "4": "save"},
    }
    assert task_position(context) == (1, 3)


def test_topology_conf_gives_each_task_its_endpoints(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    conf = TopologyConf(
        risk_service_urls="http://r1:8090,http://r2:8090",
        risk_service_token_file=str(token_file),
        hbase_hosts="t1,t2,t3",
        hbase_port=9191,
        hbase_table="members_x",
    )
    risk = conf.risk_service_settings(task_index=1)
    assert risk.urls == ("http://r2:8090", "http://r1:8090")
    assert risk.token == TOKEN
    hbase = conf.hbase_settings(task_index=2)
    assert hbase.hosts == ("t3", "t1", "t2")
    assert (hbase.port, hbase.table) == (9191, "members_x")
    # Tools that talk to one endpoint (demo, bench, tests) take the first.
    assert (conf.risk_service_url, conf.hbase_host) == ("http://r1:8090", "t1")


def test_storm_conf_carries_the_lists_as_strings_or_lists() -> None:
    conf = TopologyConf(risk_service_urls="http://r1:1,http://r2:1", hbase_hosts="t1,t2")
    assert TopologyConf.from_storm_conf(conf.as_storm_options()) == conf
    as_lists = {"lendstream.hbase_hosts": ["t1", "t2"], "lendstream.hbase_port": "9090"}
    parsed = TopologyConf.from_storm_conf(as_lists)
    assert parsed.hbase_hosts == "t1,t2"
    assert parsed.hbase_port == 9090


def refused_url() -> str:
    """A loopback port nobody listens on."""
    return f"http://127.0.0.1:{free_port()}"


def applicants(count: int) -> list[dict[str, Any]]:
    return [{"member_id": f"m{index}", "int_rate": 10.0} for index in range(count)]


def client(*urls: str, max_attempts: int = 4) -> RiskServiceClient:
    first, *others = urls
    return RiskServiceClient(
        RiskServiceSettings(
            first,
            TOKEN,
            failover_urls=tuple(others),
            max_attempts=max_attempts,
            first_backoff_s=0.01,
            timeout_s=5.0,
        )
    )


@pytest.fixture
def scoring_server() -> Iterator[ScriptedRiskService]:
    with ScriptedRiskService() as server:
        yield server


def test_a_refused_risk_service_fails_over_to_the_next_and_stays_there(
    scoring_server: ScriptedRiskService,
) -> None:
    scorer = client(refused_url(), scoring_server.url)
    first = scorer.score_dicts(applicants(3))
    second = scorer.score_dicts(applicants(2))
    assert [s.member_id for s in first] == ["m0", "m1", "m2"]
    assert len(second) == 2
    assert scorer.rotation.current.startswith(scoring_server.url)
    assert scorer.rotation.failovers == 1  # the second batch went straight to the live one
    assert len(scoring_server.requests) == 2


def test_a_503_moves_on_to_the_next_risk_service(scoring_server: ScriptedRiskService) -> None:
    with ScriptedRiskService() as unavailable:
        unavailable.script = [lambda body: (503, {"error": "unavailable"})]
        scorer = client(unavailable.url, scoring_server.url)
        assert len(scorer.score_dicts(applicants(4))) == 4
    assert (len(unavailable.requests), len(scoring_server.requests)) == (1, 1)


def test_when_every_risk_service_fails_the_batch_fails_naming_them() -> None:
    dead = [refused_url(), refused_url()]
    with pytest.raises(ScoringError, match="failed a batch of 1 after 3 attempts") as caught:
        client(*dead, max_attempts=3).score_dicts(applicants(1))
    assert all(url in str(caught.value) for url in dead)


def test_a_refusal_for_the_content_is_not_failed_over(
    scoring_server: ScriptedRiskService,
) -> None:
    scoring_server.script = [lambda body: (400, {"error": "bad request"})]
    scorer = client(scoring_server.url, refused_url())
    with pytest.raises(ScoringRejectedError, match="HTTP 400"):
        scorer.score_dicts(applicants(1))
    assert scorer.rotation.failovers == 0


def test_a_401_fails_over_to_a_risk_service_that_takes_the_token(
    scoring_server: ScriptedRiskService,
) -> None:
    with ScriptedRiskService() as stale:
        stale.script = [lambda body: (401, {"error": "wrong bearer token"})]
        scorer = client(stale.url, scoring_server.url)
        assert len(scorer.score_dicts(applicants(2))) == 2
        assert scorer.rotation.failovers == 1
    assert (len(stale.requests), len(scoring_server.requests)) == (1, 1)
