"""The pipeline exporter (python -m lendstream.services.pipeline_exporter) against the stack's
real Kafka: private applicant and dead-letter topics and a private group, so what it reports is
known exactly. It runs as the deployed unit runs it, and is read over HTTP like Prometheus does."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from local_processes import free_port
from prometheus_samples import value
from service_kafka import private_topic
from service_pipeline_exporter import (
    ROUND_TIMEOUT_S,
    START_TIMEOUT_S,
    commit,
    exporter,
    letter,
    publish,
    scrape_when,
)

from lendstream.stack.runtime import StackEndpoints

pytestmark = [pytest.mark.stack, pytest.mark.timeout(300)]


def test_exporter_reports_lag_committed_offsets_and_distinct_dead_letters_by_stage(
    stack_kafka: StackEndpoints, tmp_path: Path
) -> None:
    bootstrap = stack_kafka.kafka_bootstrap
    group = f"lendstream-test-{uuid.uuid4().hex[:8]}"
    with private_topic(bootstrap) as topic, private_topic(bootstrap) as dead_letter_topic:
        # 5 records on partition 0, 3 on partition 1; the group committed 2 on partition 0 only
        publish(bootstrap, topic, [(0, b"{}")] * 5 + [(1, b"{}")] * 3)
        commit(bootstrap, group, topic, {0: 2})
        # two clean letters (one delivered twice), one score letter, one record that is no letter
        publish(
            bootstrap,
            dead_letter_topic,
            [
                (0, letter("clean", 0, 10)),
                (1, letter("clean", 0, 11)),
                (2, letter("clean", 0, 10)),
                (0, letter("score", 1, 7)),
                (3, b"not a dead letter"),
            ],
        )
        with exporter(tmp_path, bootstrap, topic, dead_letter_topic, group) as url:
            samples = scrape_when(
                url,
                "dead letters counted",
                lambda s: any(name == "lendstream_pipeline_dead_letters_total" for name, _, _ in s),
            )
            assert value(samples, "lendstream_pipeline_exporter_kafka_up") == 1
            lag = {
                labels["partition"]: v
                for name, labels, v in samples
                if name == "lendstream_pipeline_consumer_lag" and labels["topic"] == topic
            }
            assert lag == {"0": 3, "1": 3, "2": 0, "3": 0}
            committed = "lendstream_pipeline_applicants_committed_total"
            assert value(samples, committed, topic=topic, partition="0") == 2
            assert not [s for s in samples if s[0] == committed and s[1]["partition"] != "0"]
            letters = "lendstream_pipeline_dead_letters_total"
            assert value(samples, letters, stage="clean") == 2  # the copy counts once
            assert value(samples, letters, stage="score") == 1
            assert value(samples, letters, stage="parse") == 0
            assert value(samples, letters, stage="unreadable") == 1
            # partition 0 lags behind its committed record (offset 1), published moments ago
            age = value(samples, "lendstream_pipeline_newest_committed_age_seconds")
            assert 0 < age < ROUND_TIMEOUT_S + START_TIMEOUT_S, age

            # The topology moves on and dead-letters one more: the next round shows both.
            commit(bootstrap, group, topic, {0: 5, 1: 3})
            publish(bootstrap, dead_letter_topic, [(1, letter("parse", 1, 8))])
            samples = scrape_when(
                url,
                "the new commit and dead letter",
                lambda s: (
                    value(s, letters, stage="parse") == 1
                    and value(s, "lendstream_pipeline_consumer_lag", topic=topic, partition="0")
                    == 0
                ),
            )
            assert (
                value(samples, "lendstream_pipeline_consumer_lag", topic=topic, partition="1") == 0
            )
            assert value(samples, committed, topic=topic, partition="1") == 3
            assert value(samples, letters, stage="clean") == 2
            # caught up: no partition lags, so the newest committed applicant's age is 0
            names = {name for name, _, _ in samples}
            assert "lendstream_pipeline_newest_committed_age_seconds" in names
            assert value(samples, "lendstream_pipeline_newest_committed_age_seconds") == 0


def test_exporter_without_kafka_serves_kafka_up_0_and_no_partial_counts(tmp_path: Path) -> None:
    dead_broker = f"127.0.0.1:{free_port()}"
    with exporter(tmp_path, dead_broker, "t", "t.dlq", "g") as url:
        samples = scrape_when(
            url,
            "a failed round",
            lambda s: value(s, "lendstream_pipeline_exporter_read_errors_total") >= 1,
        )
        assert value(samples, "lendstream_pipeline_exporter_kafka_up") == 0
        assert value(samples, "lendstream_pipeline_exporter_last_read_timestamp_seconds") == 0
        names = {name for name, _, _ in samples}
        assert "lendstream_pipeline_dead_letters_total" not in names
        assert "lendstream_pipeline_consumer_lag" not in names
        assert "lendstream_pipeline_newest_committed_age_seconds" not in names
