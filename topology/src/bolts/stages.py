"""The topology's bolts: thin wrappers over lendstream.pipeline, one micro-batch per tuple.

A tuple between bolts is ``[applicants, outcomes, batch, sent_ms]``: the batch packed as one
string (``flow.pack``: deflated JSON in base64, cheap for the worker JVM to carry), the outcomes
decided so far, packed the same way (``None`` until the decide bolt), the batch's route (a
digest of the packed batch, which the score bolt's fields grouping reads) and the epoch time the
sender emitted it, from which the receiver measures the hop (lendstream.pipeline.timing; samples
are written only when ``timing_dir`` is set). Dead letters travel packed too.
On a cluster (a ``tuple_key_file``) every packed value is sealed for the component that opens
it (lendstream.pipeline.sealing: AES-GCM, the receiver, field and route as associated data); a
value that does not open fails its tuple like any systemic failure: the batch is replayed and
nothing is dead-lettered.
The save bolt counts what it stored, by decision, and each applicant's Kafka record timestamp →
stored latency, in its metrics file for the node exporter (lendstream.pipeline.textfile_metrics;
written only when ``metrics_dir`` is set).
Every bolt anchors what it emits to its input and acks it only when its work is done; a bolt
that cannot do its work (risk service or HBase unreachable after bounded retries) FAILS the
tuple, so the spout replays the batch. Nothing is ever dropped silently.

With several risk services or HBase Thrift servers, task i of a bolt starts at endpoint i % n and
fails over to the next on a connection error (TopologyConf.risk_service_settings / hbase_settings).
On a cluster the save bolt has one: its own node's Thrift server on 127.0.0.1 (the only address it
listens on); while that one is down the bolt fails its batches and the spout replays them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from streamparse import Bolt, Stream

from lendstream.pipeline.dead_letter import DeadLetter, DeadLetterPublisher
from lendstream.pipeline.endpoints import EndpointRotation, task_position
from lendstream.pipeline.flow import (
    REJECTED,
    apply_rules,
    divert,
    pack,
    pack_dead_letters,
    pack_outcomes_text,
    score_batch,
    triage_all,
    unpack,
    unpack_dead_letters,
    unpack_outcomes_text,
    unpack_records,
)
from lendstream.pipeline.hbase_writer import SCORED_DECISIONS, HBaseWriteError, HBaseWriter
from lendstream.pipeline.multilang_json import use_stdlib_json
from lendstream.pipeline.poison import FailureCounts, batch_key
from lendstream.pipeline.scoring import RiskServiceClient, ScoringError, ScoringRejectedError
from lendstream.pipeline.sealing import Sealer, SealError
from lendstream.pipeline.sealing import context as sealed_for
from lendstream.pipeline.textfile_metrics import PipelineMetrics
from lendstream.pipeline.timing import TimingLog, now_ms
from lendstream.pipeline.topology_conf import TopologyConf

use_stdlib_json()  # before the component starts: see lendstream.pipeline.multilang_json

DEAD_LETTER_STREAM = "dead_letter"
BATCH_FIELDS = ["applicants", "outcomes", "batch", "sent_ms"]
# The components' names (topologies/loan_risk.py): a value is sealed for the one that opens it.
CLEAN, DECIDE, SCORE, SAVE, DEAD_LETTER = "clean", "decide", "score", "save", "dead_letter"


class _StageBolt(Bolt):
    auto_ack = False  # each bolt acks or fails explicitly
    auto_fail = True  # an unexpected exception fails the tuple (then the process restarts)

    def initialize(self, storm_conf: dict[str, Any], context: dict[str, Any]) -> None:
        self.conf = TopologyConf.from_storm_conf(storm_conf)
        self.task_index, _ = task_position(context)
        self.component = str(context["componentid"])
        self.timing = TimingLog(self.conf.timing_dir, self.component)
        self.sealer = Sealer.from_key_file(self.conf.tuple_key_file)
        self.setup()

    def setup(self) -> None:
        """Open what the bolt needs (connections, clients)."""

    def received(self, tup: Any, started_ms: float, weight: int) -> None:
        """Time the hop that brought ``tup`` (sender's emit → this ``process``)."""
        self.timing.record(
            f"hop {tup.component} → {self.component}", started_ms - tup.values[-1], weight
        )

    def opened(self, value: Any, field: str, route: str = "") -> str:
        """The text of ``value``, sealed for this component's ``field``; raises SealError."""
        return self.sealer.open(value, sealed_for(self.component, field, route))

    def open_batch(self, tup: Any) -> tuple[str, str]:
        """The packed batch and its route; raises SealError."""
        route = tup.values[2]
        if not isinstance(route, str):
            raise SealError("the batch's route is not a string")
        return self.opened(tup.values[0], "applicants", route), route

    def open_batch_with_outcomes(self, tup: Any) -> tuple[str, str, str]:
        """The packed batch, its packed outcomes and its route; raises SealError."""
        packed, route = self.open_batch(tup)
        return packed, self.opened(tup.values[1], "outcomes", route), route

    def refuse(self, tup: Any, error: SealError) -> None:
        """A tuple that does not open: a systemic failure (a wrong or missing key, a tampered
        or injected tuple), never the applicants' fault. Fail it: the spout replays the batch
        until the cause is gone; nothing is dead-lettered."""
        self.logger.error(
            "a tuple from %s (stream %s) does not open; failing it, the batch will be replayed: %s",
            tup.component,
            tup.stream,
            error,
        )
        self.fail(tup)

    def emit_batch(
        self,
        receiver: str,
        packed: str,
        outcomes: str | None,
        started_ms: float,
        weight: int,
        *,
        route: str,
    ) -> None:
        """Emit a batch to ``receiver`` (anchored to the input, as every emit), sealed for it,
        with its route and send time; times this bolt's work on it (``process`` start → emit)."""
        applicants = self.sealer.seal(packed, sealed_for(receiver, "applicants", route))
        if outcomes is not None:
            outcomes = self.sealer.seal(outcomes, sealed_for(receiver, "outcomes", route))
        sent_ms = now_ms()
        self.timing.record(f"{self.component} (work)", sent_ms - started_ms, weight)
        self.emit([applicants, outcomes, route, sent_ms])

    def emit_dead_letters(self, dead_letters: list[DeadLetter]) -> None:
        packed = pack_dead_letters(dead_letters)
        sealed = self.sealer.seal(packed, sealed_for(DEAD_LETTER, "dead_letters"))
        self.emit([sealed], stream=DEAD_LETTER_STREAM)

    def log_failover(self, rotation: EndpointRotation, seen: int) -> int:
        """Log when ``rotation`` moved on since ``seen`` failovers; returns the new count."""
        if rotation.failovers != seen:
            self.logger.warning(
                "task %d failed over to %s (%d failovers so far)",
                self.task_index,
                rotation.current,
                rotation.failovers,
            )
        return rotation.failovers


class CleanBolt(_StageBolt):
    """Parse and clean each record; unparseable or invalid ones go to the dead-letter stream."""

    outputs: ClassVar[list[Any]] = [
        Stream(fields=BATCH_FIELDS, name="default"),
        Stream(fields=["dead_letters"], name=DEAD_LETTER_STREAM),
    ]

    def process(self, tup: Any) -> None:
        started = now_ms()
        try:
            records = unpack_records(self.opened(tup.values[0], "records"))
        except SealError as error:
            self.refuse(tup, error)
            return
        self.received(tup, started, len(records))
        applicants, dead_letters = triage_all(records)
        if applicants:
            packed = pack(applicants)
            route = self.sealer.route(packed)
            self.emit_batch(DECIDE, packed, None, started, len(applicants), route=route)
        if dead_letters:
            self.emit_dead_letters(dead_letters)
        self.ack(tup)


class DecideBolt(_StageBolt):
    """Apply the business rules; rejected applicants carry their rule and skip scoring."""

    outputs: ClassVar[list[Any]] = BATCH_FIELDS

    def process(self, tup: Any) -> None:
        started = now_ms()
        try:
            packed, route = self.open_batch(tup)
        except SealError as error:
            self.refuse(tup, error)
            return
        applicants = unpack(packed)
        self.received(tup, started, len(applicants))
        outcomes = pack_outcomes_text(apply_rules(applicants))
        self.emit_batch(SCORE, packed, outcomes, started, len(applicants), route=route)
        self.ack(tup)


class ScoreBolt(_StageBolt):
    """Score the batch's undecided applicants in one request (at most 1,000 per request).

    Systemic failure (no risk service answers usefully: unreachable, 5xx, 401/403): the tuple
    fails and the batch is replayed, as often as it takes; nothing is dead-lettered. A 422 naming
    applicants: those go to the dead-letter stream, the rest are scored. A refusal naming nobody
    fails the tuple too, but counts: after ``poison_batch_failures`` of them the batch is split
    down to the applicants refused alone, which are dead-lettered (lendstream.pipeline.poison).
    """

    outputs: ClassVar[list[Any]] = [
        Stream(fields=BATCH_FIELDS, name="default"),
        Stream(fields=["dead_letters"], name=DEAD_LETTER_STREAM),
    ]

    def setup(self) -> None:
        settings = self.conf.risk_service_settings(self.task_index)
        self.client = RiskServiceClient(settings)
        self.failovers = 0
        self.refusals = FailureCounts(self.conf.poison_batch_failures)
        self.logger.info("task %d scores at %s", self.task_index, ", ".join(settings.urls))

    def process(self, tup: Any) -> None:
        started = now_ms()
        try:
            packed, outcomes, route = self.open_batch_with_outcomes(tup)
        except SealError as error:
            self.refuse(tup, error)
            return
        applicants = unpack(packed)
        self.received(tup, started, len(applicants))
        decided = unpack_outcomes_text(outcomes, len(applicants))
        key = batch_key(packed)
        split = self.refusals.should_split(key)
        try:
            call_started = now_ms()
            scored, refused = score_batch(applicants, decided, self.client, split=split)
            self.timing.record("score: risk-service call", now_ms() - call_started, len(applicants))
        except ScoringRejectedError as error:  # names no applicant: maybe a poison batch
            count = self.refusals.failed(key)
            self.failovers = self.log_failover(self.client.rotation, self.failovers)
            self.logger.error(
                "risk service refused a batch of %d (record-caused failure %d of %d before it "
                "is split); it will be replayed: %s",
                len(applicants),
                count,
                self.refusals.limit,
                error,
            )
            self.fail(tup)
            return
        except ScoringError as error:  # systemic: replay until the cause goes away
            self.failovers = self.log_failover(self.client.rotation, self.failovers)
            self.logger.error("scoring failed, batch will be replayed: %s", error)
            self.fail(tup)
            return
        self.refusals.done(key)
        self.failovers = self.log_failover(self.client.rotation, self.failovers)
        kept, kept_outcomes, dead_letters = divert(
            applicants, scored, refused, self.conf.kafka_topic
        )
        if dead_letters:
            self.logger.warning(
                "risk service refused %d of a batch of %d%s; dead-lettering them",
                len(dead_letters),
                len(applicants),
                " (split after repeated refusals)" if split else "",
            )
            self.emit_dead_letters(dead_letters)
        if kept:
            if dead_letters:
                packed = pack(kept)
                route = self.sealer.route(packed)
            kept_text = pack_outcomes_text(list(kept_outcomes))
            self.emit_batch(SAVE, packed, kept_text, started, len(kept), route=route)
        self.ack(tup)


class SaveBolt(_StageBolt):
    """Write the batch's rows to HBase (row key member_id: replays overwrite)."""

    outputs: ClassVar[list[Any]] = []

    def setup(self) -> None:
        settings = self.conf.hbase_settings(self.task_index)
        self.writer = HBaseWriter(settings)
        self.failovers = 0
        self.metrics = PipelineMetrics(
            self.conf.metrics_dir,
            self.component,
            self.task_index,
            interval_s=self.conf.metrics_interval_s,
            outcomes=sorted({REJECTED, *SCORED_DECISIONS}),
            on_error=self.logger.warning,
        )
        self.logger.info("task %d writes through %s", self.task_index, ", ".join(settings.hosts))

    def process(self, tup: Any) -> None:
        started = now_ms()
        try:
            packed, outcomes, _ = self.open_batch_with_outcomes(tup)
        except SealError as error:
            self.refuse(tup, error)
            return
        applicants = unpack(packed)
        self.received(tup, started, len(applicants))
        decided = [o for o in unpack_outcomes_text(outcomes, len(applicants)) if o is not None]
        try:
            write_started = now_ms()
            self.writer.write(applicants, decided)
            written = now_ms()
            self.timing.record("save: HBase write", written - write_started, len(applicants))
            self.timing.record("save (work)", written - started, len(applicants))
        except HBaseWriteError as error:
            self.failovers = self.log_failover(self.writer.rotation, self.failovers)
            self.logger.error("HBase write failed, batch will be replayed: %s", error)
            self.fail(tup)
            return
        self.failovers = self.log_failover(self.writer.rotation, self.failovers)
        self.metrics.stored(
            [outcome.decision for outcome in decided], [a.kafka_timestamp_ms for a in applicants]
        )
        self.ack(tup)

    def process_tick(self, tup: Any) -> None:
        """Storm's tick (topology/topologies: every few seconds): write what the last batches
        counted, also when no batch follows them."""
        self.metrics.write_if_due()
        self.ack(tup)


class DeadLetterBolt(_StageBolt):
    """Publish dead letters (acks=all) and ack only once Kafka has them."""

    outputs: ClassVar[list[Any]] = []

    def setup(self) -> None:
        self.publisher = DeadLetterPublisher(
            self.conf.kafka_bootstrap_servers,
            self.conf.kafka_dead_letter_topic,
            security=self.conf.kafka_security(),
        )

    def process(self, tup: Any) -> None:
        try:
            letters = unpack_dead_letters(self.opened(tup.values[0], "dead_letters"))
        except SealError as error:
            self.refuse(tup, error)
            return
        try:
            self.publisher.publish(letters)
        except Exception as error:  # any Kafka failure means: replay
            self.logger.error("dead-letter publish failed, batch will be replayed: %s", error)
            self.fail(tup)
            return
        self.ack(tup)
