"""Kafka helpers for the producer tests: a private topic, reading a topic back, the producer CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from local_processes import clean_environment, spawn
from service_processes import REPOSITORY

PARTITIONS = 4
READ_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Published:
    """One record read back from the topic."""

    partition: int
    offset: int
    key: bytes | None
    value: dict[str, Any]
    applicant_id: int | None


@contextmanager
def private_topic(bootstrap: str) -> Iterator[str]:
    """A fresh topic of ``PARTITIONS`` partitions, deleted afterwards."""
    name = f"lendstream.test.applicants.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lendstream-tests")
    try:
        admin.create_topics([NewTopic(name, PARTITIONS, 1)])
        yield name
    finally:
        try:
            admin.delete_topics([name])
        finally:
            admin.close()


def read_topic(bootstrap: str, topic: str) -> list[Published]:
    """Every record of the topic, from the beginning to the end offsets as of now."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        deadline = time.monotonic() + READ_TIMEOUT_S
        while not consumer.partitions_for_topic(topic):
            assert time.monotonic() < deadline, f"topic {topic} not found"
            time.sleep(0.2)
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: list[Published] = []
        while any(consumer.position(p) < ends[p] for p in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} in {READ_TIMEOUT_S} s"
            for partition, batch in consumer.poll(timeout_ms=500).items():
                for record in batch:
                    if record.offset >= ends[partition]:
                        continue
                    headers = dict(record.headers or [])
                    raw_id = headers.get("applicant_id")
                    records.append(
                        Published(
                            partition=partition.partition,
                            offset=record.offset,
                            key=record.key,
                            value=json.loads(record.value),
                            applicant_id=int(raw_id) if raw_id is not None else None,
                        )
                    )
        return records
    finally:
        consumer.close()


def producer_environment(
    api_url: str, bootstrap: str, topic: str, cursor: Path, batch_size: int = 500
) -> dict[str, str]:
    return clean_environment(
        {
            "LENDSTREAM_API_URL": api_url,
            "LENDSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "LENDSTREAM_APPLICANT_TOPIC": topic,
            "LENDSTREAM_PRODUCER_CURSOR_FILE": str(cursor),
            "LENDSTREAM_PRODUCER_BATCH_SIZE": str(batch_size),
            "LENDSTREAM_PRODUCER_POLL_INTERVAL_S": "0.2",
            "LENDSTREAM_PRODUCER_RECONCILE_TIMEOUT_S": "60",
        }
    )


def run_producer(env: dict[str, str], *arguments: str) -> tuple[int, dict[str, Any], str]:
    """Run the producer CLI to completion; its exit code, final figures and log."""
    result = subprocess.run(
        [sys.executable, "-m", "lendstream.services.producer", *arguments],
        env=env,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    figures = json.loads(lines[-1]) if lines else {}
    return result.returncode, figures, result.stderr


def start_producer(env: dict[str, str], log: Path, *arguments: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "lendstream.services.producer", *arguments]
    return spawn(command, log, env=env, cwd=REPOSITORY)
