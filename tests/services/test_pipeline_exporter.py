"""The pipeline exporter (python -m lendstream.services.pipeline_exporter) against the stack's
real Kafka: private applicant and dead-letter topics and a private group, so what it reports is
known exactly. It runs as the deployed unit runs it, and is read over HTTP like Prometheus does."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from local_processes import clean_environment, free_port, running, wait_until
from prometheus_samples import scrape, value
from service_kafka import private_topic
from service_processes import REPOSITORY

from lendstream.stack.runtime import StackEndpoints

pytestmark = [pytest.mark.stack, pytest.mark.timeout(300)]

MODULE = "lendstream.services.pipeline_exporter"
START_TIMEOUT_S = 60.0
ROUND_TIMEOUT_S = 60.0


def _letter(stage: str, partition: int, offset: int) -> bytes:
    """A dead letter as the topology's DeadLetterPublisher writes it."""
    letter = {
        "reason": f"test {stage}",
        "stage": stage,
        "record": "{}",
        "source": {"topic": "lendstream.applicants", "partition": partition, "offset": offset},
    }
    return json.dumps(letter).encode()


def _publish(bootstrap: str, topic: str, values: list[tuple[int, bytes]]) -> None:
    """(partition, value) records, acknowledged by every replica."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for partition, record in values:
            producer.send(topic, record, partition=partition)
        producer.flush(timeout=30)
    finally:
        producer.close()


def _commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commits ``offsets`` for ``group`` without joining it, as the topology's spout does."""
    committer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        committer.commit(
            {TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()}
        )
    finally:
        committer.close()


@contextmanager
def exporter(
    tmp_path: Path, bootstrap: str, topic: str, dead_letter_topic: str, group: str
) -> Iterator[str]:
    """The exporter reading every second; yields its /metrics URL once it answers."""
    port = free_port()
    env = clean_environment(
        {
            "LENDSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "LENDSTREAM_APPLICANT_TOPIC": topic,
            "LENDSTREAM_DEAD_LETTER_TOPIC": dead_letter_topic,
            "LENDSTREAM_TOPOLOGY_GROUP": group,
            "LENDSTREAM_PIPELINE_EXPORTER_INTERVAL_S": "1",
            "LENDSTREAM_PIPELINE_EXPORTER_PORT": str(port),
        }
    )
    log = tmp_path / "exporter.log"
    url = f"http://127.0.0.1:{port}/metrics"
    with running([sys.executable, "-m", MODULE], log, env=env, cwd=REPOSITORY) as process:

        def answers() -> bool:
            try:
                scrape(url)
            except (AssertionError, OSError):
                return False
            return True

        wait_until(answers, START_TIMEOUT_S, "exporter serving /metrics", process, log)
        yield url


Samples = list[tuple[str, dict[str, str], float]]


def _scrape_when(url: str, condition: str, predicate: Callable[[Samples], bool]) -> Samples:
    """The first scrape for which ``predicate`` holds (the exporter reads Kafka each second)."""
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    while True:
        samples = scrape(url)
        if predicate(samples):
            return samples
        assert time.monotonic() < deadline, f"not within {ROUND_TIMEOUT_S:.0f} s: {condition}"
        time.sleep(0.5)


def test_exporter_reports_lag_committed_offsets_and_distinct_dead_letters_by_stage(
    stack_kafka: StackEndpoints, tmp_path: Path
) -> None:
    bootstrap = stack_kafka.kafka_bootstrap
    group = f"lendstream-test-{uuid.uuid4().hex[:8]}"
    with private_topic(bootstrap) as topic, private_topic(bootstrap) as dead_letter_topic:
        # 5 records on partition 0, 3 on partition 1; the group committed 2 on partition 0 only
        _publish(bootstrap, topic, [(0, b"{}")] * 5 + [(1, b"{}")] * 3)
        _commit(bootstrap, group, topic, {0: 2})
        # two clean letters (one delivered twice), one score letter, one record that is no letter
        _publish(
            bootstrap,
            dead_letter_topic,
            [
                (0, _letter("clean", 0, 10)),
                (1, _letter("clean", 0, 11)),
                (2, _letter("clean", 0, 10)),
                (0, _letter("score", 1, 7)),
                (3, b"not a dead letter"),
            ],
        )
        with exporter(tmp_path, bootstrap, topic, dead_letter_topic, group) as url:
            samples = _scrape_when(
                url,
                "dead letters counted",
                lambda s: any(name == "lendstream_pipeline_dead_letters_total" for name, _, _ in s),
            )
            assert value(samples, "lendstream_pipeline_exporter_kafka_up") == 1
            lag = {
                labels["partition"]: v
                for name, labels, v in samples
                if name == "lendstream_pipeline_consumer_lag" and labels["topic"] == topic
            }
            assert lag == {"0": 3, "1": 3, "2": 0, "3": 0}
            committed = "lendstream_pipeline_applicants_committed_total"
            assert value(samples, committed, topic=topic, partition="0") == 2
            assert not [s for s in samples if s[0] == committed and s[1]["partition"] != "0"]
            letters = "lendstream_pipeline_dead_letters_total"
            assert value(samples, letters, stage="clean") == 2  # the copy counts once
            assert value(samples, letters, stage="score") == 1
            assert value(samples, letters, stage="parse") == 0
            assert value(samples, letters, stage="unreadable") == 1

            # The topology moves on and dead-letters one more: the next round shows both.
            _commit(bootstrap, group, topic, {0: 5, 1: 3})
            _publish(bootstrap, dead_letter_topic, [(1, _letter("parse", 1, 8))])
            samples = _scrape_when(
                url,
                "the new commit and dead letter",
                lambda s: (
                    value(s, letters, stage="parse") == 1
                    and value(s, "lendstream_pipeline_consumer_lag", topic=topic, partition="0")
                    == 0
                ),
            )
            assert (
                value(samples, "lendstream_pipeline_consumer_lag", topic=topic, partition="1") == 0
            )
            assert value(samples, committed, topic=topic, partition="1") == 3
            assert value(samples, letters, stage="clean") == 2


def test_exporter_without_kafka_serves_kafka_up_0_and_no_partial_counts(tmp_path: Path) -> None:
    dead_broker = f"127.0.0.1:{free_port()}"
    with exporter(tmp_path, dead_broker, "t", "t.dlq", "g") as url:
        samples = _scrape_when(
            url,
            "a failed round",
            lambda s: value(s, "lendstream_pipeline_exporter_read_errors_total") >= 1,
        )
        assert value(samples, "lendstream_pipeline_exporter_kafka_up") == 0
        assert value(samples, "lendstream_pipeline_exporter_last_read_timestamp_seconds") == 0
        names = {name for name, _, _ in samples}
        assert "lendstream_pipeline_dead_letters_total" not in names
        assert "lendstream_pipeline_consumer_lag" not in names
