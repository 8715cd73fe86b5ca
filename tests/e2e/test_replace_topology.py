"""Deploying the topology: replacing a running one mid-stream loses no applicant and duplicates
no row; the cluster path spreads the bolts over several endpoints and fails over from dead ones.

The deploy path (lendstream.stack.topology.deploy_local → lendstream.storm.deployment's
replace_running) kills the running topology of the same name with a drain longer than its
message timeout, waits until nimbus forgets it, and submits the new one, while applicants keep
arriving. Afterwards every valid
applicant is in HBase exactly once with its decision, every malformed one is dead-lettered, and
published = stored + dead-lettered. The message timeout is 30 s here (the default 120 s would
only make the drain longer); nothing else differs from a normal deploy.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from dataclasses import replace

import pytest
from local_processes import free_port
from pipeline_run import PipelineRun, Produced, expected_outcomes, isolated_run, reconcile

from lendstream.kafka_topics import committed_offsets, end_offsets
from lendstream.model.synthetic import generate
from lendstream.pipeline.scoring import RiskServiceSettings
from lendstream.stack.layout import StackLayout
from lendstream.stack.runtime import StackEndpoints
from lendstream.stack.topology import deploy_local, local_settings
from lendstream.storm.deployment import UNCHANGED, WOULD_DEPLOY, deploy_cluster
from lendstream.storm.inventory import ClusterTarget
from lendstream.storm.nimbus import NimbusSession

pytestmark = [pytest.mark.stack, pytest.mark.slow]

APPLICANTS = 4_000
MALFORMED_RATE = 0.05
FIRST_CHUNK = 300  # produced before the paced stream: the first topology is consuming
PACE_PER_S = 60.0  # the rest arrive over about a minute, longer than the replacement takes
MESSAGE_TIMEOUT_S = 30
DRAIN_TIMEOUT_S = 420.0
DEAD_THRIFT_HOST = "dead-thrift-server.invalid"  # .invalid never resolves (RFC 2606)


def topology_ids(run: PipelineRun) -> list[str]:
    with NimbusSession(run.nimbus) as nimbus:
        summary = nimbus.client.getClusterInfo()
    return [t.id for t in summary.topologies or [] if t.name == run.topology_name]


def test_replacing_the_topology_mid_stream_loses_and_duplicates_nothing(
    e2e_stack: StackEndpoints, e2e_risk_service: RiskServiceSettings
) -> None:
    with isolated_run(e2e_stack, e2e_risk_service) as run:
        report: list[str] = []

        def deploy(
            skip_if_unchanged: bool = False,
            dry_run: bool = False,
            message_timeout_s: int = MESSAGE_TIMEOUT_S,
        ) -> str:
            return deploy_local(
                run.conf,
                run.topology_name,
                nimbus=run.nimbus,
                extra_options={"topology.message.timeout.secs": message_timeout_s},
                report=report.append,
                skip_if_unchanged=skip_if_unchanged,
                dry_run=dry_run,
            )

        applicants = list(generate(APPLICANTS, 21, MALFORMED_RATE))
        first, rest = applicants[:FIRST_CHUNK], applicants[FIRST_CHUNK:]
        produced = Produced()
        producer = threading.Thread(
            target=run.produce, args=(rest, produced), kwargs={"rate_per_s": PACE_PER_S}
        )
        try:
            deploy()
            (old_id,) = topology_ids(run)
            run.produce(first, produced)
            run.wait_until_some_committed(at_least=len(first), timeout_s=DRAIN_TIMEOUT_S)
            producer.start()
            run.wait_until_some_committed(at_least=len(first) + 200, timeout_s=DRAIN_TIMEOUT_S)
            assert producer.is_alive(), (
                "the producer finished before the replacement: not mid-stream"
            )
            published_before = sum(
                end_offsets(run.conf.kafka_bootstrap_servers, run.conf.kafka_topic).values()
            )
            deploy()  # the same name: drain, kill, wait until forgotten, submit
            published_after = sum(
                end_offsets(run.conf.kafka_bootstrap_servers, run.conf.kafka_topic).values()
            )
            (new_id,) = topology_ids(run)
            # Deploying the same jar and settings again leaves the running topology alone.
            assert deploy(skip_if_unchanged=True) == UNCHANGED
            # A dry run (Ansible's check mode) says what a deploy would do and touches nothing.
            assert deploy(dry_run=True) == UNCHANGED
            assert deploy(dry_run=True, message_timeout_s=MESSAGE_TIMEOUT_S + 1) == WOULD_DEPLOY
            assert topology_ids(run) == [new_id]
            committed = committed_offsets(
                run.conf.kafka_bootstrap_servers, run.conf.kafka_group_id, run.conf.kafka_topic
            )
            producer.join(timeout=180.0)
            assert not producer.is_alive(), "the producer did not finish in time"
            assert len(produced.values) == len(applicants)
            run.wait_until_all_committed(DRAIN_TIMEOUT_S)
            expected = expected_outcomes(produced, run.conf.kafka_topic, e2e_risk_service)
            counts = reconcile(run, produced, expected)
        finally:
            if producer.is_alive():
                producer.join(timeout=180.0)
    print("\n" + "\n".join(report))
    print(
        f"replaced {old_id} by {new_id}; {published_after - published_before} records "
        f"published during the switch; {sum(committed.values())} committed when the new one "
        f"was submitted; "
        f"{dict(counts)}"
    )
    assert new_id != old_id
    assert any(line.startswith(f"replacing {run.topology_name}") for line in report), report
    assert f"message timeout is {MESSAGE_TIMEOUT_S} s" in "\n".join(report), report
    assert published_after > published_before, "nothing was published during the switch"


def worker_logs_containing(topology_id: str, lines: list[str], timeout_s: float) -> list[str]:
    """Those of ``lines`` the topology's worker logs hold, waiting (bounded) for all of them:
    workers write their log through a buffer, flushed when they stop."""
    artifacts = StackLayout.default().logs / "storm" / "workers-artifacts" / topology_id
    deadline = time.monotonic() + timeout_s
    while True:
        logs = "".join(p.read_text(errors="replace") for p in artifacts.glob("*/worker.log"))
        found = [line for line in lines if line in logs]
        if len(found) == len(lines) or time.monotonic() > deadline:
            return found
        time.sleep(1.0)


def test_the_cluster_path_spreads_over_endpoints_and_fails_over_from_dead_ones(
    e2e_stack: StackEndpoints, e2e_risk_service: RiskServiceSettings
) -> None:
    """The cluster deploy path (env "cluster": its parallelism, nimbus seeds, the leader looked
    up), pointed at this machine, with a dead risk service and a dead Thrift server listed
    second: of the three score and save tasks, the middle one starts at the dead endpoint and
    fails over, and the counts still reconcile."""
    dead_risk_service = f"http://127.0.0.1:{free_port()}"  # a loopback port nobody listens on
    conf = replace(
        local_settings(),
        kafka_bootstrap_servers=e2e_stack.kafka_bootstrap,
        # The live ones first: the test's own reads take the first (TopologyConf.hbase_host).
        hbase_hosts=f"{e2e_stack.hbase_thrift_host},{DEAD_THRIFT_HOST}",
        hbase_port=e2e_stack.hbase_thrift_port,
        risk_service_urls=f"{e2e_risk_service.base_url},{dead_risk_service}",
        risk_service_token_file=str(e2e_risk_service.token_file),
        spout_batch_records=50,  # about 30 batches: every task of a bolt gets some
    )
    nimbus = f"{e2e_stack.storm_nimbus_host}:{e2e_stack.storm_nimbus_port}"
    run = PipelineRun.create(conf, nimbus)
    target = ClusterTarget({"this-machine": nimbus}, [], run.conf)
    produced = Produced()
    report: list[str] = []
    try:
        run.produce(list(generate(1_500, 22, MALFORMED_RATE)), produced)
        expected = expected_outcomes(produced, run.conf.kafka_topic, e2e_risk_service)
        deploy_cluster(
            target,
            run.topology_name,
            workers_venv=sys.prefix,
            report=report.append,
            # Plain round-robin shuffle: load-aware shuffling may keep every batch in one worker.
            extra_options={"topology.disable.loadaware.messaging": True},
        )
        run.wait_until_all_committed(DRAIN_TIMEOUT_S)
        counts = reconcile(run, produced, expected)
        (topology_id,) = topology_ids(run)
        with NimbusSession(nimbus) as session:
            info = session.client.getTopologyInfo(topology_id)
        tasks = Counter(e.component_id for e in info.executors)
    finally:
        run.kill_topology()
        run.drop()
    failovers = [
        f"failed over to {e2e_risk_service.base_url}/v1/score",
        f"failed over to {e2e_stack.hbase_thrift_host} ",
    ]
    print("\n" + "\n".join(report) + f"\ntasks {dict(tasks)}; {dict(counts)}")
    assert f"leading nimbus: {nimbus}" in report
    assert (tasks["score"], tasks["save"], tasks["kafka"]) == (3, 3, 2)
    assert worker_logs_containing(topology_id, failovers, timeout_s=60.0) == failovers
