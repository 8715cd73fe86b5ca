"""What `lendstream status` reads from a cluster node (run there with the node's virtualenv by
Ansible's ``script`` module, so it need not be installed on the node): Kafka, whose brokers
advertise names only the nodes resolve, and the ports the firewall opens to the cluster only
(the HBase masters' web port, the applicant API).

Argument: one JSON document {brokers: ["host:port"], topic, dead_letter_topic, group, window_s,
hbase_masters: ["host:port"], hbase_regionservers: ["host:info port"], hbase_table,
applicant_apis: ["http(s)://host:port"], ca_file, timeout_s, zookeeper_members: [host],
zookeeper_port}. The ZooKeeper members answer ``srvr`` over mutual TLS with the node's certificate
(read as root) where their client port asks for it, else in plaintext.
Prints one JSON document with a section per reading; a section that could not be read is
{"error": why}. Every wait is bounded: TCP probes first (only the brokers that answer are asked),
kafka-python's own timeouts, HTTP timeouts.
"""

from __future__ import annotations

import json
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import partial
from typing import Any

from kafka import KafkaAdminClient, TopicPartition

from lendstream.hbase_spread import regionserver_writes
from lendstream.kafka_client import KafkaSecurity, operator_security
from lendstream.kafka_topics import committed_offsets, consumer, end_offsets
from lendstream.reconcile.endpoints import broker_address, probe
from lendstream.zookeeper_words import NODE_TLS, four_letter_word, srvr_mode

HBASE_SERVER_BEAN = "Hadoop:service=HBase,name=Master,sub=Server"


def guarded(read: Callable[[], Any]) -> Any:
    """The reading, or {"error": why} (a probe never fails as a whole)."""
    try:
        return read()
    except Exception as error:
        return {"error": f"{type(error).__name__}: {error}"[:300]}


def kafka_state(
    brokers: list[str], topics: list[str], timeout_s: float, security: KafkaSecurity
) -> dict[str, Any]:
    """Registered (unfenced) brokers, the KRaft quorum's leader and voters, and the partitions
    of ``topics`` with fewer in-sync replicas than replicas, or no leader."""
    admin = KafkaAdminClient(
        bootstrap_servers=brokers,
        request_timeout_ms=int(timeout_s * 1000),
        bootstrap_timeout_ms=int(timeout_s * 1000),
        **security.client_options(),
    )
    try:
        cluster = admin.describe_cluster()
        quorum = admin.describe_metadata_quorum()
        described = admin.describe_topics(topics)
    finally:
        admin.close()
    partition = quorum["topics"][0]["partitions"][0]
    endpoints = {
        node["node_id"]: (node.get("listeners") or [{}])[0].get("host")
        for node in quorum.get("nodes") or []
    }
    under, offline = [], []
    for topic in described:
        name = topic.get("topic") or topic.get("name")
        for p in topic.get("partitions", []):
            label = f"{name}-{p.get('partition_index', p.get('partition'))}"
            replicas = p.get("replica_nodes", p.get("replicas", []))
            in_sync = p.get("isr_nodes", p.get("isr", []))
            if p.get("leader_id", p.get("leader", -1)) < 0:
                offline.append(label)
            elif len(in_sync) < len(replicas):
                under.append(label)
    return {
        "brokers": {
            b["broker_id"]: b["host"] for b in cluster["brokers"] if not b.get("is_fenced")
        },
        "quorum": {
            "leader_id": partition.get("leader_id", -1),
            "voters": {
                v["replica_id"]: endpoints.get(v["replica_id"])
                for v in partition.get("current_voters", [])
            },
        },
        "under_replicated": under,
        "offline": offline,
    }


def lag(brokers: list[str], topic: str, group: str, security: KafkaSecurity) -> dict[str, Any]:
    ends = end_offsets(brokers, topic, security)
    committed = committed_offsets(brokers, group, topic, security)
    return {"partitions": {p: max(0, end - committed.get(p, 0)) for p, end in ends.items()}}


def recent(
    brokers: list[str], topics: dict[str, str], window_s: float, security: KafkaSecurity
) -> dict[str, Any]:
    """Records each topic (label → name) received in the last ``window_s`` seconds."""
    reader = consumer(brokers, security=security)
    try:
        since_ms = int((time.time() - window_s) * 1000)
        counts: dict[str, Any] = {"window_s": window_s}
        for label, name in topics.items():
            partitions = [TopicPartition(name, p) for p in reader.partitions_for_topic(name) or ()]
            ends = reader.end_offsets(partitions)
            starts = reader.offsets_for_times(dict.fromkeys(partitions, since_ms))
            counts[label] = sum(
                ends[tp] - starts[tp].offset for tp in partitions if starts.get(tp) is not None
            )
        return counts
    finally:
        reader.close()


def get_json(url: str, timeout_s: float, context: ssl.SSLContext | None = None) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s, context=context) as answer:
        return json.load(answer)


def hbase_master_jmx(master: str, timeout_s: float) -> Any:
    """An HBase master's ``Master,sub=Server`` bean (``master`` is host:info port)."""
    return get_json(f"http://{master}/jmx?qry={HBASE_SERVER_BEAN}", timeout_s)


def http_status_error(url: str, timeout_s: float, context: ssl.SSLContext | None) -> str | None:
    """Why ``url`` does not answer 200 (None: it does)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s, context=context) as answer:
            return None if answer.status == 200 else f"HTTP {answer.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except urllib.error.URLError as error:
        return str(error.reason)
    except Exception as error:
        return f"{type(error).__name__}: {error}"[:200]


def main(argv: list[str]) -> int:
    settings = json.loads(argv[0])
    timeout_s = float(settings["timeout_s"])
    result: dict[str, Any] = {}
    live = guarded(lambda: probe("Kafka broker", settings["brokers"], broker_address, timeout_s))
    # The node's operator settings (a secured cluster's), else plaintext.
    security = guarded(operator_security)
    if isinstance(live, dict) or isinstance(security, dict):
        for section in ("kafka", "lag", "recent"):
            result[section] = live if isinstance(live, dict) else security
    else:
        brokers = list(live.live)
        topics = [settings["topic"], settings["dead_letter_topic"]]
        result["kafka"] = guarded(lambda: kafka_state(brokers, topics, timeout_s, security))
        result["lag"] = guarded(
            lambda: lag(brokers, settings["topic"], settings["group"], security)
        )
        result["recent"] = guarded(
            lambda: recent(
                brokers,
                {"applicants": settings["topic"], "dead_letters": settings["dead_letter_topic"]},
                float(settings["window_s"]),
                security,
            )
        )
    result["hbase_masters"] = {
        master: guarded(partial(hbase_master_jmx, master, timeout_s))
        for master in settings["hbase_masters"]
    }
    # write requests per region of the pipeline's table on each RegionServer (its /jmx)
    result["hbase_writes"] = {
        info: guarded(partial(regionserver_writes, info, settings["hbase_table"], timeout_s))
        for info in settings.get("hbase_regionservers", [])
    }
    context = (
        ssl.create_default_context(cafile=settings["ca_file"]) if settings["ca_file"] else None
    )
    result["applicant_api"] = {
        url: http_status_error(f"{url}/healthz", timeout_s, context)
        for url in settings["applicant_apis"]
    }
    port = int(settings.get("zookeeper_port", 0))
    result["zookeeper"] = {
        member: srvr_mode(four_letter_word(member, port, "srvr", timeout_s, NODE_TLS))
        for member in settings.get("zookeeper_members", [])
    }
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
