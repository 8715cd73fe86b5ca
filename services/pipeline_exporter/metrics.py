"""The pipeline exporter's metrics: a prometheus_client collector over the last snapshot the
sampler (:class:`Sampler`) took, so a scrape never waits on Kafka.

Dead letters are exposed only once the dead-letter topic has been read to its end: a restarted
exporter never shows a partly counted total (the count is of the whole topic, so it carries on
across restarts where it left off, as a counter should).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from kafka.errors import KafkaError
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lendstream.kafka_topics import KafkaReadError
from lendstream.services.pipeline_exporter.reader import PipelineReader, Progress

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """What the last round read (``progress`` None: never read yet)."""

    progress: Progress | None = None
    dead_letters: dict[str, int] | None = None  # None until read to the topic's end once
    kafka_up: bool = False
    read_at: float = 0.0  # Unix time of the last successful round
    errors: int = 0  # rounds that failed since the start


@dataclass
class Sampler:
    """Reads Kafka every ``interval_s`` (``run``, until ``stop`` is set) and keeps the last
    snapshot for the collector, which the HTTP server's thread calls."""

    reader: PipelineReader
    interval_s: float
    stop: threading.Event = field(default_factory=threading.Event)
    snapshot: Snapshot = field(default_factory=Snapshot)

    def read_once(self) -> Snapshot:
        previous = self.snapshot
        try:
            progress = self.reader.progress()
            count = self.reader.read_new_dead_letters(budget_s=self.interval_s)
        except (KafkaError, KafkaReadError, OSError) as error:
            LOG.warning("cannot read Kafka: %s", error)
            self.reader.close()
            self.snapshot = Snapshot(
                progress=previous.progress,
                dead_letters=previous.dead_letters,
                read_at=previous.read_at,
                errors=previous.errors + 1,
            )
            return self.snapshot
        self.snapshot = Snapshot(
            progress=progress,
            dead_letters=dict(count.by_stage) if count.caught_up else previous.dead_letters,
            kafka_up=True,
            read_at=time.time(),
            errors=previous.errors,
        )
        return self.snapshot

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            self.read_once()
            self.stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
        self.reader.close()


class PipelineCollector(Collector):
    """Turns the sampler's last snapshot into metric families at each scrape."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler

    def collect(self) -> Iterator[Metric]:
        snapshot = self.sampler.snapshot
        topic = self.sampler.reader.settings.topic
        up = GaugeMetricFamily(
            "lendstream_pipeline_exporter_kafka_up",
            "1 when the exporter's last read of Kafka succeeded.",
            value=1 if snapshot.kafka_up else 0,
        )
        yield up
        yield GaugeMetricFamily(
            "lendstream_pipeline_exporter_last_read_timestamp_seconds",
            "When Kafka was last read successfully (Unix time; 0: never).",
            value=snapshot.read_at,
        )
        yield CounterMetricFamily(
            "lendstream_pipeline_exporter_read_errors",
            "Rounds of reading Kafka that failed.",
            value=snapshot.errors,
        )
        if snapshot.progress is not None:
            lag = GaugeMetricFamily(
                "lendstream_pipeline_consumer_lag",
                "Records of the applicant topic after the topology's committed offset.",
                labels=["topic", "partition"],
            )
            committed = CounterMetricFamily(
                "lendstream_pipeline_applicants_committed",
                "The topology's committed offset: every record before it is stored or "
                "dead-lettered.",
                labels=["topic", "partition"],
            )
            for partition, value in sorted(snapshot.progress.lag.items()):
                lag.add_metric([topic, str(partition)], value)
            for partition, value in sorted(snapshot.progress.committed.items()):
                committed.add_metric([topic, str(partition)], value)
            yield lag
            yield committed
        if snapshot.dead_letters is not None:
            letters = CounterMetricFamily(
                "lendstream_pipeline_dead_letters",
                "Distinct applicants sent to the dead-letter topic, by stage.",
                labels=["stage"],
            )
            for stage, value in sorted(snapshot.dead_letters.items()):
                letters.add_metric([stage], value)
            yield letters
