"""Stage timing samples: written by a component, read back by window, weighted percentiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lendstream.pipeline.timing import StageSamples, TimingLog, now_ms, read_samples


def test_a_log_without_a_directory_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    log = TimingLog("", "clean")
    log.record("clean (work)", 3.0, 10)
    log.record_each("kafka → spout poll", [1.0, 2.0])
    assert not log.enabled
    assert list(tmp_path.iterdir()) == []


def test_samples_are_read_back_by_stage_within_the_window(tmp_path: Path) -> None:
    before = now_ms()
    log = TimingLog(str(tmp_path / "timing"), "save")
    log.record("save: HBase write", 12.5, 400)
    log.record_each("kafka → spout poll", [1.0, 2.0, 30.0])
    log.record("ignored", 1.0, 0)  # no applicant: not a sample
    log.close()
    after = now_ms() + 1.0  # a sample's time is rounded to 0.1 ms: it may land just after now
    stages = read_samples(tmp_path / "timing", before, after)
    assert set(stages) == {"save: HBase write", "kafka → spout poll"}
    assert (stages["save: HBase write"].weight, stages["kafka → spout poll"].weight) == (400, 3)
    assert read_samples(tmp_path / "timing", after + 1, after + 1000) == {}


def test_a_half_written_last_line_is_left_for_later(tmp_path: Path) -> None:
    (tmp_path / "clean-1.jsonl").write_text(
        json.dumps(["clean (work)", 5.0, 2.0, 3]) + "\n" + '["clean (work)", 6.0'
    )
    stages = read_samples(tmp_path, 0, 10)
    assert stages["clean (work)"].values == [(2.0, 3)]


def test_percentiles_weigh_each_sample_by_its_applicants() -> None:
    samples = StageSamples()
    samples.add(10.0, 98)  # a batch of 98 applicants that took 10 ms
    samples.add(500.0, 2)  # a batch of 2 that took 500 ms
    assert samples.percentile(0.5) == 10.0
    assert samples.percentile(0.98) == 10.0
    assert samples.percentile(0.99) == 500.0
    with pytest.raises(ValueError, match="no samples"):
        StageSamples().percentile(0.5)


def test_stages_are_ordered_by_when_they_start() -> None:
    early, late = StageSamples(), StageSamples()
    early.add(5.0, 1, ended_ms=1_005.0)
    late.add(5.0, 1, ended_ms=1_050.0)
    assert early.mean_start_ms < late.mean_start_ms
