"""The HBase row of a decided applicant (docs/architecture.md), and the submitted jar."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from lendstream.pipeline.flow import Applicant, Outcome
from lendstream.pipeline.hbase_writer import (
    HBaseSettings,
    HBaseWriteError,
    HBaseWriter,
    member_row_key,
    row_cells,
    row_key,
)
from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.storm.jar import build_jar, render_config

CLEAN_JSON = '{"member_id":"M-1","int_rate":13.99}'
APPLICANT = Applicant("M-1", '{"member_id": "M-1"}', CLEAN_JSON, 1_700_000_000_123, 0, 4)


def test_a_scored_row_has_its_probability_and_model_version() -> None:
    outcome = Outcome("review", probability_of_default=0.1234, model_version="2026.11.28-1")
    assert row_key(APPLICANT) == member_row_key("M-1")
    assert row_cells(APPLICANT, outcome) == {
        b"member:id": b"M-1",
        b"member:raw": b'{"member_id": "M-1"}',
        b"member:clean": CLEAN_JSON.encode(),
        b"result:decision": b"review",
        b"result:kafka_timestamp_ms": b"1700000000123",
        b"result:probability_of_default": b"0.1234",
        b"result:model_version": b"2026.11.28-1",
    }


def test_a_rejected_row_has_its_rule_and_detail_and_no_score() -> None:
    cells = row_cells(APPLICANT, Outcome("rejected", "grade", "grade F is not accepted"))
    assert cells[b"result:rule"] == b"grade"
    assert cells[b"result:detail"] == b"grade F is not accepted"
    assert b"result:probability_of_default" not in cells


def test_an_undecided_outcome_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="no known decision"):
        row_cells(APPLICANT, Outcome("pending"))
    with pytest.raises(ValueError, match="no known decision"):
        row_cells(APPLICANT, Outcome("approve"))  # a scored decision without its score


def test_the_jar_carries_the_python_sources_under_resources(tmp_path: Path) -> None:
    jar = build_jar(tmp_path / "t.jar")
    names = zipfile.ZipFile(jar).namelist()
    assert "resources/spouts/kafka_batches.py" in names
    assert "resources/bolts/stages.py" in names
    assert not [n for n in names if "__pycache__" in n]
    assert build_jar(tmp_path / "u.jar").read_bytes() == jar.read_bytes()


def test_the_rendered_config_points_workers_at_the_venv_and_carries_settings() -> None:
    settings = TopologyConf(hbase_table="members_t", kafka_group_id="g1")
    config = render_config("local", settings, "127.0.0.1:6627", "/srv/app/.venv")
    env = config["envs"]["local"]
    assert (env["virtualenv_root"], env["virtualenv_name"]) == ("/srv/app", ".venv")
    assert env["install_virtualenv"] is False
    assert env["options"]["lendstream.hbase_table"] == "members_t"
    assert TopologyConf.from_storm_conf(env["options"]) == settings


def test_an_unreachable_thrift_server_raises_a_write_error_after_bounded_attempts() -> None:
    writer = HBaseWriter(HBaseSettings(host="127.0.0.1", port=9, attempts=2, timeout_ms=1000))
    outcome = Outcome("approve", probability_of_default=0.01, model_version="v")
    with pytest.raises(HBaseWriteError, match=r"after 2 attempts: TTransportException.*connect"):
        writer.write([APPLICANT], [outcome])
