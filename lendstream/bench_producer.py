"""The bench's producer: applicants on the wire, published (optionally paced) into a topic.

One home for both benches. The single-machine bench (lendstream.bench) calls :func:`produce`
in its own process; the cluster bench (lendstream.bench_cluster) runs this module on a cluster
node, where the names Kafka advertises resolve: its source is sent as ``python -c`` to the node's
virtualenv and its plan comes on standard input (it carries the SCRAM password: never on a
command line). So it imports nothing of lendstream but lendstream.kafka_client, which every
deployed wheel holds. The plan is ``{"bootstrap", "topic", "security": {"protocol", "ca_file",
"username", "password"}, "records": [...], "rate_per_s"}``; it prints one JSON document:
``{"produced", "seconds", "publish_ms": [record timestamp → broker ack, ms, per record]}``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer

from lendstream.kafka_client import PLAINTEXT_SECURITY, KafkaSecurity

FLUSH_TIMEOUT_S = 120


def encode(record: Any) -> bytes:
    if isinstance(record, bytes):
        return record
    if isinstance(record, str):
        return record.encode("utf-8")
    return json.dumps(record).encode("utf-8")


def member_key(record: Any) -> bytes | None:
    if isinstance(record, dict) and record.get("member_id") not in (None, ""):
        return str(record["member_id"]).encode("utf-8")
    return None


def tag_member_ids(records: Sequence[Any], prefix: str) -> list[Any]:
    """The records with member ids ``<prefix><position>``, so a run's rows can be told apart.
    A record without a usable member id (malformed on purpose: missing, empty or blank) keeps
    it as it is, so it stays malformed and goes to the dead letters as it would have."""
    return [
        {**record, "member_id": f"{prefix}{index}"}
        if isinstance(record, dict) and str(record.get("member_id") or "").strip()
        else record
        for index, record in enumerate(records)
    ]


def produce(
    bootstrap: str,
    topic: str,
    records: Sequence[Any],
    *,
    rate_per_s: float = 0.0,
    acked_after_ms: list[float] | None = None,
    security: KafkaSecurity = PLAINTEXT_SECURITY,
) -> None:
    """Publish the records (key member_id, acks=all); paced at ``rate_per_s`` if given. With
    ``acked_after_ms``, appends each record's time from its timestamp to the broker's ack."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, **security.client_options()
    )
    start = time.monotonic()

    def acked(metadata: Any) -> None:
        if acked_after_ms is not None:
            acked_after_ms.append(time.time() * 1000.0 - metadata.timestamp)

    try:
        for index, record in enumerate(records):
            if rate_per_s > 0:
                delay = start + index / rate_per_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            future = producer.send(topic, key=member_key(record), value=encode(record))
            if acked_after_ms is not None:
                future.add_callback(acked)
        producer.flush(timeout=FLUSH_TIMEOUT_S)
    finally:
        producer.close(timeout=30)


def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """Publish a plan's records as it says; what was published, in how long, each ack time."""
    security = KafkaSecurity(**plan["security"]) if plan.get("security") else PLAINTEXT_SECURITY
    published: list[float] = []
    started = time.monotonic()
    produce(
        plan["bootstrap"],
        plan["topic"],
        plan["records"],
        rate_per_s=float(plan.get("rate_per_s", 0.0)),
        acked_after_ms=published,
        security=security,
    )
    seconds = time.monotonic() - started
    return {
        "produced": len(plan["records"]),
        "seconds": seconds,
        "publish_ms": [round(value, 1) for value in published],
    }


def main() -> int:
    json.dump(run_plan(json.load(sys.stdin)), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
