"""The pipeline exporter's metrics: a prometheus_client collector over the last snapshot the
sampler (:class:`Sampler`) took, so a scrape never waits on Kafka. The sampler also keeps its
last samples (:class:`~.status_page.Sample`) for the ``/status`` page.

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
from lendstream.services.pipeline_exporter.status_page import Sample

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """What the last round read (``progress`` None: never read yet)."""

    progress: Progress | None = None
    dead_letters: dict[str, int] | None = None  # None until read to the topic's end once
    kafka_up: bool = False
    read_at: float = 0.0  # Unix time of the last successful round
    errors: int = 0  # rounds that failed since the start
    # Seconds from the newest committed applicant's Kafka timestamp to the read, the most over
    # the partitions that lag; 0: none lags; None: no lagging partition's record could be read.
    newest_committed_age_s: float | None = None


def newest_committed_age(progress: Progress, stamps_ms: dict[int, int], now: float) -> float | None:
    """See :attr:`Snapshot.newest_committed_age_s` (a timestamp ahead of ``now`` counts as 0)."""
    if not any(progress.lag.values()):
        return 0.0
    if not stamps_ms:
        return None
    return max(0.0, *(now - stamp / 1000 for stamp in stamps_ms.values()))


@dataclass
class Sampler:
    """Reads Kafka every ``interval_s`` (``run``, until ``stop`` is set) and keeps the last
    snapshot for the collector and the last ``history_size`` samples for the status page, which
    the HTTP server's threads read (each is replaced whole, never changed in place)."""

    reader: PipelineReader
    interval_s: float
    history_size: int = 60
    stop: threading.Event = field(default_factory=threading.Event)
    snapshot: Snapshot = field(default_factory=Snapshot)
    history: tuple[Sample, ...] = ()

    def read_once(self) -> Snapshot:
        previous = self.snapshot
        try:
            progress = self.reader.progress()
            count = self.reader.read_new_dead_letters(budget_s=self.interval_s)
            stamps = self.reader.newest_committed_timestamps(progress, budget_s=self.interval_s)
        except (KafkaError, KafkaReadError, OSError) as error:
            LOG.warning("cannot read Kafka: %s", error)
            self.reader.close()
            self.snapshot = Snapshot(
                progress=previous.progress,
                dead_letters=previous.dead_letters,
                read_at=previous.read_at,
                errors=previous.errors + 1,
                newest_committed_age_s=previous.newest_committed_age_s,
            )
            return self.snapshot
        now = time.time()
        self.snapshot = snapshot = Snapshot(
            progress=progress,
            dead_letters=dict(count.by_stage) if count.caught_up else previous.dead_letters,
            kafka_up=True,
            read_at=now,
            errors=previous.errors,
            newest_committed_age_s=newest_committed_age(progress, stamps, now),
        )
        sample = Sample(
            at=now,
            committed=sum(progress.committed.values()),
            lag=sum(progress.lag.values()),
            dead_letters=snapshot.dead_letters,
            newest_committed_age_s=snapshot.newest_committed_age_s,
        )
        self.history = (*self.history, sample)[-self.history_size :]
        return snapshot

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
        if snapshot.newest_committed_age_s is not None:
            yield GaugeMetricFamily(
                "lendstream_pipeline_newest_committed_age_seconds",
                "At the last read: its time minus the Kafka timestamp of the newest committed "
                "applicant, the most over the partitions that lag; 0 when none lags.",
                value=snapshot.newest_committed_age_s,
            )
        if snapshot.dead_letters is not None:
            letters = CounterMetricFamily(
                "lendstream_pipeline_dead_letters",
                "Distinct applicants sent to the dead-letter topic, by stage.",
                labels=["stage"],
            )
            for stage, value in sorted(snapshot.dead_letters.items()):
                letters.add_metric([stage], value)
            yield letters
