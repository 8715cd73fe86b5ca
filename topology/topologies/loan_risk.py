"""Kafka → clean → decide → score → save to HBase, with unparseable records to the DLQ topic.

Each tuple carries a micro-batch (one polled batch of one partition's records), because the
multilang JSON protocol costs per tuple; see docs/topology.md for the settings below.
"""

from typing import Any, ClassVar

from bolts.stages import (
    CLEAN,
    DEAD_LETTER,
    DEAD_LETTER_STREAM,
    DECIDE,
    SAVE,
    SCORE,
    CleanBolt,
    DeadLetterBolt,
    DecideBolt,
    SaveBolt,
    ScoreBolt,
)
from spouts.kafka_batches import RECEIVER, KafkaBatchSpout
from streamparse import Grouping, Topology


class Lendstream(Topology):
    config: ClassVar[dict[str, Any]] = {
        # One worker JVM: tuples between executors stay in memory (no serialization, no Netty).
        # On a cluster config.json's env "cluster" sets more (its options rank above these).
        "topology.workers": 1,
        "topology.acker.executors": 1,
        # With several workers (a cluster) tuples cross between JVMs through Kryo; the multilang
        # JSON reader hands Storm a tuple's lists, objects and decimals as these types, which
        # Kryo refuses unregistered ("Class is not registered": the worker halts). Anything
        # else unregistered falls back to Java serialization instead of halting the worker.
        "topology.kryo.register": [
            "org.apache.storm.shade.net.minidev.json.JSONArray",
            "org.apache.storm.shade.net.minidev.json.JSONObject",
            "java.math.BigDecimal",
            "java.math.BigInteger",
        ],
        "topology.fall.back.on.java.serialization": True,
        # In-flight batches per spout task (each up to spout_batch_records applicants).
        "topology.max.spout.pending": 8,
        # Longer than the worst retry chain of a bolt (risk service: 4 attempts of 10 s).
        "topology.message.timeout.secs": 120,
        # Tuples queued to one Python bolt process; each is a whole batch, so few suffice.
        "topology.shellbolt.max.pending": 16,
        "topology.subprocess.timeout.secs": 60,
        # An idle executor thread (most of them, most of the time: a tuple is a whole batch)
        # spins, then parks 100 µs at a time by default; measured, the acker alone burnt more
        # CPU than the clean bolt. Park briefly, then sleep 5 ms: a few ms per hop at most.
        "topology.bolt.wait.progressive.level2.count": 10,
        "topology.bolt.wait.progressive.level3.sleep.millis": 5,
        "topology.spout.wait.progressive.level3.sleep.millis": 5,
    }

    # Parallelism per environment of config.json: one task each on the single machine but two
    # of score, whose risk-service call is the longest stage (two calls overlap instead of
    # batches queueing in front of one; docs/topology.md, "Cutting latency"); on a
    # cluster (topology.workers there: config.json) the score and save bolts have three tasks:
    # score tasks spread over the risk services (task i starts at endpoint i % n, see
    # lendstream.pipeline.endpoints), each save task writes through the HBase Thrift server of
    # its own node (127.0.0.1: Thrift listens on loopback only); the spout has two (p % 2).
    kafka = KafkaBatchSpout.spec(name="kafka", par={"local": 1, "cluster": 2})
    clean = CleanBolt.spec(name=CLEAN, inputs=[kafka], par={"local": 1, "cluster": 2})
    decide = DecideBolt.spec(name=DECIDE, inputs=[clean])
    # Replays of a batch reach the same score task (grouped by the batch's route, a digest of the
    # packed batch: the same for the same records, while the sealed batch differs by its nonce),
    # which counts its record-caused failures (lendstream.pipeline.poison).
    score = ScoreBolt.spec(
        name=SCORE,
        inputs={decide: Grouping.fields("batch")},
        par={"local": 2, "cluster": 3},
    )
    # A tick every 5 s: the save bolt writes its metrics file (metrics_dir) also when idle.
    save = SaveBolt.spec(
        name=SAVE,
        inputs=[score],
        par={"local": 1, "cluster": 3},
        config={"topology.tick.tuple.freq.secs": 5},
    )
    # A value is sealed for the component that opens it (lendstream.pipeline.sealing): the names
    # are the bolts' own constants, and the spout's receiver is the clean bolt.
    assert RECEIVER == CLEAN
    dead_letter = DeadLetterBolt.spec(
        name=DEAD_LETTER, inputs=[clean[DEAD_LETTER_STREAM], score[DEAD_LETTER_STREAM]]
    )
