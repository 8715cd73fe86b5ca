"""The pipeline exporter in the service tests: run as the deployed unit runs it, against private
topics of the stack's real Kafka, fed with records and commits as the producer and the topology
write them, and read over HTTP."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from local_processes import clean_environment, free_port, running, wait_until
from prometheus_samples import scrape
from service_processes import REPOSITORY

MODULE = "lendstream.services.pipeline_exporter"
START_TIMEOUT_S = 60.0
ROUND_TIMEOUT_S = 60.0


def letter(stage: str, partition: int, offset: int) -> bytes:
    """A dead letter as the topology's DeadLetterPublisher writes it."""
    body = {
        "reason": f"test {stage}",
        "stage": stage,
        "record": "{}",
        "source": {"topic": "lendstream.applicants", "partition": partition, "offset": offset},
    }
    return json.dumps(body).encode()


def publish(bootstrap: str, topic: str, values: list[tuple[int, bytes]]) -> None:
    """(partition, value) records, acknowledged by every replica."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for partition, record in values:
            producer.send(topic, record, partition=partition)
        producer.flush(timeout=30)
    finally:
        producer.close()


def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
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
    tmp_path: Path,
    bootstrap: str,
    topic: str,
    dead_letter_topic: str,
    group: str,
    *,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The exporter reading every second (``extra_env``: more of its settings); yields its
    /metrics URL once it answers."""
    port = free_port()
    env = clean_environment(
        {
            "LENDSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "LENDSTREAM_APPLICANT_TOPIC": topic,
            "LENDSTREAM_DEAD_LETTER_TOPIC": dead_letter_topic,
            "LENDSTREAM_TOPOLOGY_GROUP": group,
            "LENDSTREAM_PIPELINE_EXPORTER_INTERVAL_S": "1",
            "LENDSTREAM_PIPELINE_EXPORTER_PORT": str(port),
            **(extra_env or {}),
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


def scrape_when(url: str, condition: str, predicate: Callable[[Samples], bool]) -> Samples:
    """The first scrape for which ``predicate`` holds (the exporter reads Kafka each second)."""
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    while True:
        samples = scrape(url)
        if predicate(samples):
            return samples
        assert time.monotonic() < deadline, f"not within {ROUND_TIMEOUT_S:.0f} s: {condition}"
        time.sleep(0.5)
