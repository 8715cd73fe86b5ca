"""Kafka → clean → decide → score → save to HBase, with unparseable records to the DLQ topic.

Each tuple carries a micro-batch (one polled batch of one partition's records), because the
multilang JSON protocol costs per tuple; see docs/topology.md for the settings below.
"""

from typing import Any, ClassVar

from bolts.stages import (
    DEAD_LETTER_STREAM,
    CleanBolt,
    DeadLetterBolt,
    DecideBolt,
    SaveBolt,
    ScoreBolt,
)
from spouts.kafka_batches import KafkaBatchSpout
from streamparse import Topology


class Lendstream(Topology):
    config: ClassVar[dict[str, Any]] = {
        # One worker JVM: tuples between executors stay in memory (no serialization, no Netty).
        "topology.workers": 1,
        "topology.acker.executors": 1,
        # In-flight batches per spout task (each up to spout_batch_records applicants).
        "topology.max.spout.pending": 8,
        # Longer than the worst retry chain of a bolt (risk service: 4 attempts of 10 s).
        "topology.message.timeout.secs": 120,
        # Tuples queued to one Python bolt process; each is a whole batch, so few suffice.
        "topology.shellbolt.max.pending": 16,
        "topology.subprocess.timeout.secs": 60,
    }

    kafka = KafkaBatchSpout.spec(name="kafka")
    clean = CleanBolt.spec(name="clean", inputs=[kafka])
    decide = DecideBolt.spec(name="decide", inputs=[clean])
    score = ScoreBolt.spec(name="score", inputs=[decide])
    save = SaveBolt.spec(name="save", inputs=[score])
    dead_letter = DeadLetterBolt.spec(name="dead_letter", inputs=[clean[DEAD_LETTER_STREAM]])
