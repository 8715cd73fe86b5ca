"""The topology's bolts with a tuple key: what they emit is sealed, and a tuple that does not
open fails (a systemic failure, replayed) without a dead letter.

The bolt classes of topology/src run as Storm runs them, minus Storm: pystorm's own JSON
serializer writes their multilang messages (emit, ack, fail) into a buffer this test reads, and
the score bolt calls a real HTTP server on loopback that speaks the risk service's contract.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from applicants import raw_applicant
from pystorm.component import Tuple
from scripted_risk_service import TOKEN, ScriptedRiskService

from lendstream.pipeline.flow import SourceRecord, pack_records, unpack, unpack_dead_letters
from lendstream.pipeline.sealing import SEALED_PREFIX, Sealer, context

SOURCE = Path(__file__).resolve().parents[2] / "topology" / "src"


@pytest.fixture(scope="module")
def stages() -> Iterator[ModuleType]:
    sys.path.insert(0, str(SOURCE))
    try:
        import bolts.stages as module  # noqa: PLC0415 - the topology's source tree, on demand

        yield module
    finally:
        sys.path.remove(str(SOURCE))


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "tuple.key"
    path.write_text(secrets.token_urlsafe(32) + "\n")
    return path


class Harness:
    """One bolt, initialised as Storm would, its multilang output kept."""

    def __init__(self, cls: type, component: str, conf: dict[str, Any]) -> None:
        self.out = io.BytesIO()
        self.bolt = cls(input_stream=io.BytesIO(), output_stream=self.out)
        self.bolt.logger = logging.getLogger(f"test.{component}")
        context = {"componentid": component, "taskid": 1, "task->component": {"1": component}}
        self.bolt.initialize(conf, context)

    def process(self, values: list[Any], source: str = "upstream", stream: str = "default") -> None:
        self.bolt.process(Tuple("t-1", source, stream, 7, values))

    def messages(self, command: str) -> list[dict[str, Any]]:
        texts = self.out.getvalue().decode("utf-8").split("\nend\n")
        parsed = [json.loads(text) for text in texts if text.strip()]
        return [message for message in parsed if message.get("command") == command]

    def emitted(self, stream: str = "default") -> list[list[Any]]:
        return [m["tuple"] for m in self.messages("emit") if m.get("stream", "default") == stream]


def records(count: int, junk: int = 0) -> list[SourceRecord]:
    good = [
        SourceRecord("t", 0, i, 1_700_000_000_000, json.dumps(raw_applicant(f"MEMBERX{i:04d}")))
        for i in range(count)
    ]
    return good + [SourceRecord("t", 0, count + i, 0, "not json") for i in range(junk)]


def test_a_batch_travels_sealed_up_to_the_save_bolt_and_dead_letters_too(
    stages: ModuleType, key_file: Path, risk_service: ScriptedRiskService, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    conf = {
        "lendstream.tuple_key_file": str(key_file),
        "lendstream.risk_service_urls": risk_service.url,
        "lendstream.risk_service_token_file": str(token),
    }
    sealer = Sealer.from_key_file(str(key_file))
    clean = Harness(stages.CleanBolt, stages.CLEAN, conf)
    clean.process([sealer.seal(pack_records(records(20, junk=2)), context("clean", "records")), 0])
    (batch,) = clean.emitted()
    (letters,) = clean.emitted(stages.DEAD_LETTER_STREAM)
    assert batch[0].startswith(SEALED_PREFIX)
    assert batch[1] is None
    assert letters[0].startswith(SEALED_PREFIX)
    assert "MEMBERX" not in json.dumps(clean.messages("emit"))  # no member id on the wire
    opened = sealer.open(letters[0], context("dead_letter", "dead_letters"))
    assert [letter.stage for letter in unpack_dead_letters(opened)] == ["parse", "parse"]

    decide = Harness(stages.DecideBolt, stages.DECIDE, conf)
    decide.process(batch, source="clean")
    (decided,) = decide.emitted()
    assert decided[2] == batch[2]  # the route: the same batch
    assert decided[0] != batch[0]  # sealed again, for the score bolt
    score = Harness(stages.ScoreBolt, stages.SCORE, conf)
    score.process(decided, source="decide")
    (scored,) = score.emitted()
    packed = sealer.open(scored[0], context("save", "applicants", scored[2]))
    assert [a.member_id for a in unpack(packed)] == [f"MEMBERX{i:04d}" for i in range(20)]
    assert [len(h.messages("ack")) for h in (clean, decide, score)] == [1, 1, 1]
    assert len(risk_service.requests) == 1


def test_a_tuple_that_does_not_open_fails_and_is_not_dead_lettered(
    stages: ModuleType, key_file: Path, tmp_path: Path
) -> None:
    conf = {"lendstream.tuple_key_file": str(key_file)}
    sealer = Sealer.from_key_file(str(key_file))
    clean = Harness(stages.CleanBolt, stages.CLEAN, conf)
    clean.process([sealer.seal(pack_records(records(5)), context("clean", "records")), 0])
    (batch,) = clean.emitted()
    other_key = tmp_path / "other.key"
    other_key.write_text(secrets.token_urlsafe(32))
    unsealed_records = pack_records(records(5))
    cases = [
        (stages.CleanBolt, stages.CLEAN, conf, [unsealed_records, 0]),  # injected in clear
        (stages.DecideBolt, stages.DECIDE, {"lendstream.tuple_key_file": str(other_key)}, batch),
        (stages.DecideBolt, stages.DECIDE, conf, [batch[0], None, "0" * 32, 0]),  # other route
        (stages.CleanBolt, stages.CLEAN, conf, [batch[0], 0]),  # sealed for decide
        (stages.DecideBolt, stages.DECIDE, {}, batch),  # no key: a sealed value does not open
    ]
    for cls, component, bolt_conf, values in cases:
        harness = Harness(cls, component, bolt_conf)
        harness.process(values)
        assert [m["id"] for m in harness.messages("fail")] == ["t-1"], component
        assert harness.messages("emit") == [], component
        assert harness.messages("ack") == [], component


def test_without_a_key_the_bolts_pass_packed_values(stages: ModuleType) -> None:
    clean = Harness(stages.CleanBolt, stages.CLEAN, {})
    clean.process([pack_records(records(3)), 0])
    (batch,) = clean.emitted()
    assert [a.member_id for a in unpack(batch[0])] == ["MEMBERX0000", "MEMBERX0001", "MEMBERX0002"]
    assert batch[2] == Sealer(None).route(batch[0])
