"""The producer against the stack's real Kafka and the applicant API on the real MariaDB."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from kafka.admin import KafkaAdminClient
from local_processes import free_port, stop, tail
from prometheus_samples import scrape, value
from service_kafka import (
    PARTITIONS,
    Published,
    private_topic,
    producer_environment,
    read_topic,
    run_producer,
    start_producer,
)

from lendstream.services.producer.messages import to_record
from lendstream.stack.runtime import StackEndpoints

pytestmark = [pytest.mark.mysql, pytest.mark.stack]

WAIT_S = 120.0


@pytest.fixture(scope="module")
def served_ids(applicant_api_url: str) -> list[int]:
    """Every applicant id the API serves, walked once."""
    ids: list[int] = []
    after: int | None = 0
    for _ in range(100):
        body = requests.get(
            f"{applicant_api_url}/v1/applicants", params={"after": after, "limit": 1000}, timeout=10
        ).json()
        ids.extend(applicant["id"] for applicant in body["applicants"])
        after = body["next_after"]
        if after is None:
            return ids
    raise AssertionError("the API did not reach its end in 100 pages")


@pytest.fixture
def topic(stack_kafka: StackEndpoints) -> Iterator[str]:
    with private_topic(stack_kafka.kafka_bootstrap) as name:
        yield name


@dataclass(frozen=True)
class ProducerRun:
    """A producer from the applicant API to a private topic, its cursor in a file of its own."""

    api_url: str
    bootstrap: str
    topic: str
    cursor: Path

    def environment(self, batch_size: int = 500) -> dict[str, str]:
        return producer_environment(
            self.api_url, self.bootstrap, self.topic, self.cursor, batch_size=batch_size
        )

    def published(self) -> list[Published]:
        return read_topic(self.bootstrap, self.topic)


@pytest.fixture
def producer(
    stack_kafka: StackEndpoints, applicant_api_url: str, topic: str, tmp_path: Path
) -> ProducerRun:
    return ProducerRun(
        applicant_api_url, stack_kafka.kafka_bootstrap, topic, tmp_path / "cursor.json"
    )


def _assert_each_once(records: list[Published], expected_ids: list[int]) -> None:
    counts = Counter(record.applicant_id for record in records)
    duplicates = {applicant: n for applicant, n in counts.items() if n > 1}
    missing = set(expected_ids) - set(counts)
    assert not duplicates, f"{len(duplicates)} duplicated, e.g. {list(duplicates.items())[:5]}"
    assert not missing, f"{len(missing)} missing, e.g. {sorted(missing)[:5]}"
    assert len(records) == len(expected_ids)


def _wait_for_cursor(path: Path, process: subprocess.Popen[bytes], log: Path, at_least: int) -> int:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"producer exited early: {tail(log)}"
        if path.exists():
            after = json.loads(path.read_text())["after"]
            if after >= at_least:
                return int(after)
        time.sleep(0.02)
    raise AssertionError(f"cursor did not reach {at_least} in {WAIT_S:.0f} s: {tail(log)}")


def test_publishes_every_applicant_once_keyed_with_its_id(
    producer: ProducerRun, served_ids: list[int]
) -> None:
    env = producer.environment()
    code, figures, log = run_producer(env, "--until-empty")
    assert code == 0, log[-3000:]
    print(
        f"producer: {figures['published']} applicants in {figures['seconds']:.2f} s = "
        f"{figures['records_per_s']} msgs/s (batch 500, API + Kafka acks=all)"
    )
    records = producer.published()
    _assert_each_once(records, served_ids)
    for record in records:
        assert record.value["id"] == record.applicant_id
        assert record.key == record.value["member_id"].encode()
        assert record.partition == to_record(record.value).partition(PARTITIONS)
    assert json.loads(producer.cursor.read_text())["after"] == max(served_ids)

    code, figures, log = run_producer(env, "--until-empty")
    assert code == 0, log[-3000:]
    assert figures["published"] == 0
    assert len(producer.published()) == len(served_ids)


def test_kill_9_mid_run_then_restart_leaves_no_gap_and_no_duplicate(
    producer: ProducerRun, served_ids: list[int], tmp_path: Path
) -> None:
    env = producer.environment(batch_size=50)
    for crash, at_least in enumerate((1000, 4000)):
        log = tmp_path / f"producer-{crash}.log"
        process = start_producer(env, log)
        _wait_for_cursor(producer.cursor, process, log, at_least)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        in_kafka = len(producer.published())
        assert in_kafka < len(served_ids), "the producer finished before it was killed"
    code, _, log_text = run_producer(env, "--until-empty")
    assert code == 0, log_text[-3000:]
    _assert_each_once(producer.published(), served_ids)


def test_records_sent_but_not_in_the_cursor_are_not_sent_again(
    producer: ProducerRun, served_ids: list[int], tmp_path: Path
) -> None:
    """The crash window between Kafka's acknowledgement and the cursor save, made exact: the
    cursor is rolled back over published batches, and the cursor file is lost entirely."""
    cursor, env = producer.cursor, producer.environment(batch_size=100)
    assert run_producer(env, "--max-records", "300")[0] == 0
    shutil.copy(cursor, tmp_path / "cursor-at-300.json")
    assert run_producer(env, "--max-records", "450")[0] == 0
    shutil.copy(tmp_path / "cursor-at-300.json", cursor)  # the last saves "never happened"
    code, figures, _ = run_producer(env, "--max-records", "1000")
    assert code == 0
    assert figures["skipped_already_in_kafka"] == 450
    _assert_each_once(producer.published(), served_ids[:1750])

    cursor.unlink()  # lost: the producer reads the whole topic back and skips what is there
    code, figures, _ = run_producer(env, "--until-empty")
    assert code == 0
    assert figures["skipped_already_in_kafka"] == 1750
    _assert_each_once(producer.published(), served_ids)


def test_sigterm_flushes_and_saves_a_consistent_cursor(
    producer: ProducerRun, served_ids: list[int], tmp_path: Path
) -> None:
    log = tmp_path / "producer.log"
    process = start_producer(producer.environment(batch_size=50), log)
    _wait_for_cursor(producer.cursor, process, log, 1000)
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0, tail(log)
    after = json.loads(producer.cursor.read_text())["after"]
    records = producer.published()
    assert after < max(served_ids), "the producer finished before SIGTERM"
    _assert_each_once(records, [i for i in served_ids if i <= after])


def test_unreachable_api_stops_an_until_empty_run_cleanly(
    stack_kafka: StackEndpoints, topic: str, tmp_path: Path
) -> None:
    env = producer_environment(
        "http://127.0.0.1:9", stack_kafka.kafka_bootstrap, topic, tmp_path / "cursor.json"
    )
    env["LENDSTREAM_PRODUCER_POLL_INTERVAL_S"] = "0.01"
    code, _, log = run_producer(env, "--until-empty")
    assert code == 2
    assert "applicant API unavailable" in log
    assert "Traceback" not in log
    assert not (tmp_path / "cursor.json").exists()


def test_malformed_rows_are_published_too_keyless_without_member_id(
    stack_kafka: StackEndpoints, synthetic_api_url: str, topic: str, tmp_path: Path
) -> None:
    cursor = tmp_path / "cursor.json"
    env = producer_environment(synthetic_api_url, stack_kafka.kafka_bootstrap, topic, cursor)
    code, figures, log = run_producer(env, "--until-empty")
    assert code == 0, log[-3000:]
    assert figures["unpublishable"] == 0
    records = read_topic(stack_kafka.kafka_bootstrap, topic)
    assert len(records) == figures["published"] == len({r.applicant_id for r in records})
    keyless = [record for record in records if record.key is None]
    assert keyless
    assert all(record.value["member_id"] is None for record in keyless)
    assert all(record.partition == record.applicant_id % PARTITIONS for record in keyless)


def test_a_missing_topic_is_reported_not_created(
    stack_kafka: StackEndpoints, applicant_api_url: str, tmp_path: Path
) -> None:
    missing = f"lendstream.test.missing.{tmp_path.name[-12:]}"
    env = producer_environment(
        applicant_api_url, stack_kafka.kafka_bootstrap, missing, tmp_path / "cursor.json"
    )
    env["LENDSTREAM_PRODUCER_RECONCILE_TIMEOUT_S"] = "3"
    code, _, log = run_producer(env, "--until-empty")
    assert code == 2
    assert f"topic {missing} does not exist" in log
    admin = KafkaAdminClient(bootstrap_servers=stack_kafka.kafka_bootstrap)
    try:
        assert missing not in admin.list_topics()
    finally:
        admin.close()


def test_metrics_report_what_was_published(
    producer: ProducerRun, served_ids: list[int], tmp_path: Path
) -> None:
    """/metrics of a running producer against what is really in the topic."""
    log = tmp_path / "producer.log"
    env = producer.environment()
    port = free_port()
    env["LENDSTREAM_PRODUCER_METRICS_PORT"] = str(port)
    started = time.time()
    process = start_producer(env, log)
    try:
        _wait_for_cursor(producer.cursor, process, log, max(served_ids))
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        # the cursor is saved before the gauges are set: wait (bounded) for the first empty poll
        deadline = time.monotonic() + WAIT_S
        polls = "lendstream_producer_api_polls_total"
        while value(scrape(metrics_url), polls, outcome="empty") < 1:
            assert time.monotonic() < deadline, f"no empty poll in {WAIT_S:.0f} s: {tail(log)}"
            time.sleep(0.2)
        samples = scrape(metrics_url)
    finally:
        stop(process)
    records = producer.published()
    _assert_each_once(records, served_ids)
    assert value(samples, "lendstream_producer_published_total") == len(records)
    assert value(samples, "lendstream_producer_unpublishable_total") == 0
    assert value(samples, "lendstream_producer_publish_failures_total") == 0
    assert value(samples, "lendstream_producer_api_polls_total", outcome="error") == 0
    pages = -(-len(served_ids) // 500)  # batch 500: every full page and the last partial one
    assert value(samples, "lendstream_producer_api_polls_total", outcome="page") == pages
    assert value(samples, "lendstream_producer_cursor_applicant_id") == max(served_ids)
    last_offsets = {
        partition: max(record.offset for record in records if record.partition == partition)
        for partition in {record.partition for record in records}
    }
    for partition, offset in last_offsets.items():
        assert (
            value(samples, "lendstream_producer_last_published_offset", partition=str(partition))
            == offset
        )
    last_batch = value(samples, "lendstream_producer_last_batch_timestamp_seconds")
    assert started <= last_batch <= time.time()
