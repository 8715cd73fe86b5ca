"""The producer's loop: page through the applicant API and publish each applicant to Kafka.

One batch at a time: read a page after the cursor, send its records (idempotent producer,
``acks=all``), flush, check every acknowledgement, and only then save the cursor. A record
that Kafka refuses after all retries stops the producer with the cursor unsaved, so the next
start republishes exactly what is missing (see :mod:`.reconcile`). A stop request (SIGTERM,
SIGINT) lets the current batch finish, flushes, saves the cursor and exits.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from lendstream.services.producer import cursor as cursor_file
from lendstream.services.producer import metrics
from lendstream.services.producer.api_client import ApiUnavailableError, ApplicantApiClient
from lendstream.services.producer.cursor import Cursor
from lendstream.services.producer.messages import (
    UnpublishableEntryError,
    applicant_id_of,
    to_record,
)
from lendstream.services.producer.reconcile import reconcile
from lendstream.services.producer.settings import ProducerSettings

log = logging.getLogger(__name__)

CLIENT_ID = "lendstream-producer"
MAX_API_BACKOFF_S = 30.0


class PublishError(RuntimeError):
    """Kafka did not acknowledge a record of the batch; the cursor was not saved."""


@dataclass(slots=True)
class RunStats:
    published: int = 0
    skipped_already_in_kafka: int = 0
    unpublishable: int = 0
    batches: int = 0
    api_failures: int = 0
    seconds: float = 0.0
    reconciled_records_read: int = 0


@dataclass(slots=True)
class RunLimits:
    """When to stop besides a stop request: at the first empty page, or after N records."""

    until_empty: bool = False
    max_records: int | None = None
    max_api_failures_until_empty: int = 10


class ApplicantProducer:
    """Publishes applicants from the API to Kafka with no gap and no duplicate across restarts."""

    def __init__(self, settings: ProducerSettings, stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.stop = stop or threading.Event()

    def run(self, limits: RunLimits | None = None) -> RunStats:
        limits = limits or RunLimits()
        settings = self.settings
        started = time.perf_counter()
        saved = cursor_file.load(settings.cursor_file, settings.topic) or Cursor(settings.topic)
        found = reconcile(
            settings.kafka_bootstrap,
            saved,
            settings.reconcile_timeout_s,
            CLIENT_ID,
            settings.kafka_security,
        )
        stats = RunStats(reconciled_records_read=found.records_read)
        metrics.CURSOR_APPLICANT_ID.set(saved.after)
        pending_skip = set(found.already_published)
        log.info(
            "resuming %s after applicant %d; %d already in Kafka beyond it (%d records read back)",
            settings.topic,
            saved.after,
            len(pending_skip),
            found.records_read,
        )
        producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap.split(","),
            client_id=CLIENT_ID,
            acks="all",
            enable_idempotence=True,
            max_in_flight_requests_per_connection=5,
            linger_ms=20,
            batch_size=256 * 1024,
            delivery_timeout_ms=int(settings.send_timeout_s * 1000),
            allow_auto_create_topics=False,
            **settings.kafka_security.client_options(),
        )
        api = ApplicantApiClient(
            settings.api_url, settings.api_timeout_s, settings.api_token, settings.api_ca_file
        )
        state = _State(
            partitions=found.partitions,
            after=saved.after,
            start_offsets=found.start_offsets,
            latest_offsets=dict(found.end_offsets),
            pending_skip=pending_skip,
        )
        try:
            self._loop(api, producer, state, limits, stats)
        finally:
            api.close()
            producer.close(timeout=settings.send_timeout_s)
            stats.seconds = time.perf_counter() - started
        return stats

    def _loop(
        self,
        api: ApplicantApiClient,
        producer: KafkaProducer,
        state: _State,
        limits: RunLimits,
        stats: RunStats,
    ) -> None:
        backoff = self.settings.poll_interval_s
        while not self.stop.is_set():
            remaining = None if limits.max_records is None else limits.max_records - stats.published
            if remaining is not None and remaining <= 0:
                return
            try:
                page = api.page(state.after, self.settings.batch_size)
            except ApiUnavailableError as error:
                stats.api_failures += 1
                metrics.API_POLLS.labels(outcome="error").inc()
                log.warning("applicant API unavailable (retrying in %.1f s): %s", backoff, error)
                if limits.until_empty and stats.api_failures >= limits.max_api_failures_until_empty:
                    raise
                self.stop.wait(backoff)
                backoff = min(backoff * 2, MAX_API_BACKOFF_S)
                continue
            backoff = self.settings.poll_interval_s
            metrics.API_POLLS.labels(outcome="page" if page.entries else "empty").inc()
            if not page.entries:
                if limits.until_empty:
                    return
                self.stop.wait(self.settings.poll_interval_s)
                continue
            entries, new_after = page.entries, page.next_after
            if remaining is not None and len(entries) > remaining:
                entries = entries[:remaining]
                new_after = applicant_id_of(entries[-1]) or state.after
            assert new_after is not None  # a non-empty page always carries next_after
            self._publish_batch(producer, entries, state, stats)
            state.advance(new_after)
            cursor_file.save(self.settings.cursor_file, state.cursor(self.settings.topic))
            stats.batches += 1
            metrics.CURSOR_APPLICANT_ID.set(state.after)
            metrics.LAST_BATCH_TIMESTAMP.set_to_current_time()

    def _publish_batch(
        self,
        producer: KafkaProducer,
        entries: list[Any],
        state: _State,
        stats: RunStats,
    ) -> None:
        futures = []
        for entry in entries:
            try:
                record = to_record(entry)
            except UnpublishableEntryError as error:
                stats.unpublishable += 1
                metrics.UNPUBLISHABLE.inc()
                log.error("not published: %s", error)
                continue
            if record.applicant_id in state.pending_skip:
                stats.skipped_already_in_kafka += 1
                continue
            future = producer.send(
                self.settings.topic,
                value=record.value,
                key=record.key,
                headers=record.headers,
                partition=record.partition(state.partitions),
            )
            futures.append((record.applicant_id, future))
        producer.flush(timeout=self.settings.send_timeout_s)
        acknowledged_partitions: set[int] = set()
        for applicant_id, future in futures:
            try:
                metadata = future.get(timeout=0)
            except KafkaError as error:
                metrics.PUBLISH_FAILURES.inc()
                raise PublishError(
                    f"applicant {applicant_id} was not acknowledged ({error}); the cursor stays "
                    f"at {state.after} and a restart republishes what is missing"
                ) from error
            state.acknowledged(metadata.partition, metadata.offset)
            acknowledged_partitions.add(metadata.partition)
        stats.published += len(futures)
        metrics.PUBLISHED.inc(len(futures))
        for partition in acknowledged_partitions:
            metrics.LAST_PUBLISHED_OFFSET.labels(partition=str(partition)).set(
                state.latest_offsets[partition] - 1
            )


@dataclass(slots=True)
class _State:
    """Where the producer is: its cursor, and what reconciliation told it to skip."""

    partitions: int
    after: int
    start_offsets: dict[int, int]
    latest_offsets: dict[int, int]
    pending_skip: set[int]

    def acknowledged(self, partition: int, offset: int) -> None:
        self.latest_offsets[partition] = max(self.latest_offsets.get(partition, 0), offset + 1)

    def advance(self, after: int) -> None:
        self.after = after
        self.pending_skip = {applicant for applicant in self.pending_skip if applicant > after}

    def cursor(self, topic: str) -> Cursor:
        # While records found by reconciliation lie ahead, keep reading back from where it
        # started: a crash now must still see them on the next start.
        offsets = self.start_offsets if self.pending_skip else self.latest_offsets
        return Cursor(topic=topic, after=self.after, offsets=dict(offsets))
