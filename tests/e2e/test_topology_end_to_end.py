"""The topology on the real Storm: every applicant stored once or dead-lettered, counts exact.

Marked stack and slow: it needs Kafka, HBase and Storm of the single-machine stack, trains a
light model and runs a risk service. The first two tests produce straight into the run's topic
(the synthetic generator's raw values plus a few unparseable ones, which the MySQL path cannot
carry); the last one takes the real front: MariaDB → applicant API → producer.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from applicant_source import applicant_source, publish_all
from pipeline_run import (
    PipelineRun,
    Produced,
    assert_metrics_count_the_rows,
    expected_outcomes,
    isolated_run,
    reconcile,
)
from storm_ui_server import get_json, scrape_metrics, storm_ui

from lendstream.model.synthetic import generate
from lendstream.pipeline.flow import REJECTED
from lendstream.pipeline.hbase_writer import SCORED_DECISIONS
from lendstream.pipeline.scoring import RiskServiceSettings
from lendstream.stack.runtime import StackEndpoints

pytestmark = [pytest.mark.stack, pytest.mark.slow]

APPLICANTS = 3_000
MALFORMED_RATE = 0.05
DRAIN_TIMEOUT_S = 420.0
FIRST_CHUNK = 300  # produced before the kill test's paced stream starts
# The generator's malformed records are JSON objects; these exercise the parse stage too.
UNPARSEABLE: list[bytes] = [b"not json at all", b'{"member_id": "cut-', b"\xff\xfe\x00garbage"]
# Storm reports executor counters with its heartbeats, every few seconds.
UI_COUNTERS_TIMEOUT_S = 90.0


def applicants_with_garbage(seed: int) -> list[object]:
    """Synthetic applicants with a few unparseable values spread among them."""
    records: list[object] = list(generate(APPLICANTS, seed, MALFORMED_RATE))
    for index, garbage in enumerate(UNPARSEABLE):
        records.insert((index + 1) * len(records) // (len(UNPARSEABLE) + 1), garbage)
    return records


def _ui_topology(ui_url: str, run: PipelineRun) -> dict[str, Any]:
    """The run's topology as the Storm UI shows it, once every component has counted work."""
    deadline = time.monotonic() + UI_COUNTERS_TIMEOUT_S
    while True:
        summary = get_json(f"{ui_url}/api/v1/topology/summary")["topologies"]
        ours = [topology for topology in summary if topology["name"] == run.topology_name]
        assert len(ours) == 1, summary
        document = get_json(f"{ui_url}/api/v1/topology/{ours[0]['id']}?window=:all-time")
        spouts_acked = all(spout["acked"] > 0 for spout in document["spouts"])
        bolts_executed = all(bolt["executed"] > 0 for bolt in document["bolts"])
        if spouts_acked and bolts_executed:
            return {"summary": ours[0], "topology": document}
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the UI shows no work after {UI_COUNTERS_TIMEOUT_S:.0f} s: {document}"
            )
        time.sleep(2.0)


def test_every_applicant_is_stored_once_or_dead_lettered(
    e2e_stack: StackEndpoints, e2e_risk_service: RiskServiceSettings, tmp_path: Path
) -> None:
    """Also checks the Storm UI stand-in against the running topology: its pages name the
    topology's spouts and bolts and show the work each did; and the pipeline's metrics files
    (what a node exporter serves on a cluster) against the rows stored."""
    produced = Produced()
    with isolated_run(e2e_stack, e2e_risk_service) as run:
        run.produce(applicants_with_garbage(11), produced)
        expected = expected_outcomes(produced, run.conf.kafka_topic, e2e_risk_service)
        stages = {letter.stage for letter in expected.dead_letters.values()}
        assert stages == {"parse", "clean"}, stages
        # Every tuple counted (Storm samples 5 % by default): the UI's counters are exact.
        run.deploy({"topology.stats.sample.rate": 1.0})
        run.wait_until_all_committed(DRAIN_TIMEOUT_S)
        counts = reconcile(run, produced, expected)
        with storm_ui(e2e_stack, tmp_path / "storm-ui.log") as ui_url:
            shown = _ui_topology(ui_url, run)
            metrics = scrape_metrics(ui_url)
        # After the UI's checks: by then the save bolts have written their last batches' counts.
        pipeline_metrics = run.wait_for_metrics(stored=counts["stored"])
    print(f"\nend to end: {dict(counts)}")
    print(f"pipeline metrics: {pipeline_metrics.summary()}")
    rows = {decision: counts[decision] for decision in sorted({REJECTED, *SCORED_DECISIONS})}
    assert sum(rows.values()) == counts["stored"], counts  # no row of another decision
    assert_metrics_count_the_rows(pipeline_metrics, rows, run.conf.spout_batch_records)
    assert counts["rejected"] > 0
    assert counts["approve"] + counts["review"] + counts["decline"] > 0
    assert shown["summary"]["status"] == "ACTIVE"
    topology = shown["topology"]
    assert [spout["spoutId"] for spout in topology["spouts"]] == ["kafka"]
    bolts = {"clean", "decide", "score", "save", "dead_letter"}
    assert {bolt["boltId"] for bolt in topology["bolts"]} == bolts
    assert topology["workersTotal"] >= 1
    # What Prometheus scrapes (job storm_ui) for StormTopologyNotRunning and StormSupervisorMissing.
    assert metrics["lendstream_storm_nimbus_up"] == {(): 1.0}
    assert metrics["lendstream_storm_supervisors"][()] >= 1
    assert metrics["lendstream_storm_topology_active"][(("topology", run.topology_name),)] == 1.0


def test_a_killed_worker_comes_back_and_nothing_is_lost_or_duplicated(
    e2e_stack: StackEndpoints, e2e_risk_service: RiskServiceSettings
) -> None:
    with isolated_run(e2e_stack, e2e_risk_service) as run:
        produced = Produced()
        applicants = applicants_with_garbage(12)
        first, rest = applicants[:FIRST_CHUNK], applicants[FIRST_CHUNK:]
        producer = threading.Thread(
            target=run.produce, args=(rest, produced), kwargs={"rate_per_s": 250.0}
        )
        run.deploy()
        run.produce(first, produced)  # the worker is up and consuming once these are committed
        run.wait_until_some_committed(at_least=len(first), timeout_s=DRAIN_TIMEOUT_S)
        producer.start()  # about 11 s of paced records
        run.wait_until_some_committed(at_least=len(first) + 300, timeout_s=DRAIN_TIMEOUT_S)
        assert producer.is_alive(), "the producer finished before the kill: not mid-stream"
        old_worker = run.kill_worker()
        producer.join(timeout=120.0)
        assert not producer.is_alive(), "the producer did not finish in time"
        assert len(produced.values) == len(applicants)
        new_worker = run.wait_for_new_worker(old_worker, timeout_s=180.0)
        run.wait_until_all_committed(DRAIN_TIMEOUT_S)
        expected = expected_outcomes(produced, run.conf.kafka_topic, e2e_risk_service)
        counts = reconcile(run, produced, expected)
    print(f"\nkilled worker {old_worker}, new worker {new_worker}: {dict(counts)}")
    assert new_worker != old_worker


@pytest.mark.mysql
def test_applicants_from_mysql_through_the_producer_are_all_accounted_for(
    e2e_stack: StackEndpoints,
    stack_mysql: StackEndpoints,
    e2e_risk_service: RiskServiceSettings,
    tmp_path: Path,
) -> None:
    with isolated_run(e2e_stack, e2e_risk_service) as run:
        with applicant_source(stack_mysql, tmp_path, APPLICANTS, 13, MALFORMED_RATE) as source:
            run.deploy()
            summary = publish_all(
                source, run.conf.kafka_bootstrap_servers, run.conf.kafka_topic, tmp_path
            )
        produced = run.read_back()
        assert len(produced.values) == source.rows, summary
        run.wait_until_all_committed(DRAIN_TIMEOUT_S)
        expected = expected_outcomes(produced, run.conf.kafka_topic, e2e_risk_service)
        assert expected.dead_letters, "no malformed applicant came through MySQL"
        counts = reconcile(run, produced, expected)
    print(f"\nfrom MySQL through the producer: {dict(counts)}")
