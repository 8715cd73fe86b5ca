"""The benchmark's baseline: the same pipeline as a plain Python loop in one process.

consume a poll of records → triage (parse, clean) → rules → one batched scoring request →
one batched HBase write → dead letters → commit the poll's offsets. No Storm, no multilang.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from lendstream.pipeline.dead_letter import DeadLetterPublisher
from lendstream.pipeline.flow import SourceRecord, apply_rules, apply_scores, triage_all
from lendstream.pipeline.hbase_writer import HBaseWriter
from lendstream.pipeline.scoring import RiskServiceClient
from lendstream.pipeline.topology_conf import TopologyConf


@dataclass(frozen=True)
class BaselineRun:
    records: int
    stored: int
    dead_lettered: int
    wall_s: float
    cpu_s: float  # this process only (all its threads)


def run_baseline(
    conf: TopologyConf, expected_records: int, timeout_s: float = 600.0
) -> BaselineRun:
    """Consume ``conf.kafka_topic`` from the group's committed offsets until
    ``expected_records`` were handled (or ``timeout_s`` passed, which raises)."""
    consumer = KafkaConsumer(
        bootstrap_servers=conf.kafka_bootstrap_servers,
        group_id=conf.kafka_group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=conf.spout_batch_records,
        **conf.kafka_security().client_options(),
    )
    partitions = consumer.partitions_for_topic(conf.kafka_topic) or set()
    consumer.assign([TopicPartition(conf.kafka_topic, p) for p in sorted(partitions)])
    client = RiskServiceClient(conf.risk_service_settings())
    writer = HBaseWriter(conf.hbase_settings())
    publisher = DeadLetterPublisher(
        conf.kafka_bootstrap_servers, conf.kafka_dead_letter_topic, security=conf.kafka_security()
    )
    handled = stored = dead_lettered = 0
    start_wall, start_cpu = time.monotonic(), time.process_time()
    deadline = start_wall + timeout_s
    try:
        while handled < expected_records:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"baseline handled {handled} of {expected_records} in {timeout_s:.0f} s"
                )
            polled = consumer.poll(timeout_ms=100, max_records=conf.spout_batch_records)
            if not polled:
                continue
            records = [
                SourceRecord.from_bytes(r.topic, r.partition, r.offset, r.timestamp, r.value)
                for batch in polled.values()
                for r in batch
            ]
            applicants, letters = triage_all(records)
            outcomes = apply_scores(applicants, apply_rules(applicants), client)
            stored += writer.write(applicants, outcomes)
            if letters:
                publisher.publish(letters)
            dead_lettered += len(letters)
            handled += len(records)
            consumer.commit(
                {
                    tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1)
                    for tp, batch in polled.items()
                }
            )
        return BaselineRun(
            records=handled,
            stored=stored,
            dead_lettered=dead_lettered,
            wall_s=time.monotonic() - start_wall,
            cpu_s=time.process_time() - start_cpu,
        )
    finally:
        consumer.close()
        client.close()
        writer.close()
        publisher.close()
