"""The topology as streamparse turns it into Thrift for nimbus, and the spout's partition split."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from script_modules import load_script

PROJECT = Path(__file__).resolve().parents[2] / "topology"


@pytest.fixture(scope="module")
def project_modules() -> ModuleType:
    sys.path.insert(0, str(PROJECT / "src"))
    try:
        return load_script("loan_risk_topology", PROJECT / "topologies" / "loan_risk.py")
    finally:
        sys.path.remove(str(PROJECT / "src"))


def test_the_chain_and_the_dead_letter_branch(project_modules: ModuleType) -> None:
    topology = project_modules.Lendstream
    bolts = topology.thrift_bolts
    assert set(topology.thrift_spouts) == {"kafka"}
    inputs = {
        name: {(g.componentId, g.streamId) for g in bolt.common.inputs}
        for name, bolt in bolts.items()
    }
    assert inputs == {
        "clean": {("kafka", "default")},
        "decide": {("clean", "default")},
        "score": {("decide", "default")},
        "save": {("score", "default")},
        "dead_letter": {("clean", "dead_letter"), ("score", "dead_letter")},
    }
    assert set(bolts["clean"].common.streams) == {"default", "dead_letter"}
    # replays of a batch meet the same score task, which counts its refusals
    (score_grouping,) = bolts["score"].common.inputs.values()
    # by the batch's route: a sealed batch differs on each replay (a fresh nonce), its route not
    assert score_grouping.fields == ["batch"]
    assert "batch" in bolts["decide"].common.streams["default"].output_fields
    assert set(bolts["score"].common.streams) == {"default", "dead_letter"}


def test_every_python_component_runs_through_streamparse_run(project_modules: ModuleType) -> None:
    topology = project_modules.Lendstream
    for component in [*topology.thrift_bolts.values(), *topology.thrift_spouts.values()]:
        shell = (getattr(component, "bolt_object", None) or component.spout_object).shell
        assert shell.execution_command == "streamparse_run"
        assert shell.script.split(".")[0] in {"bolts", "spouts"}


def test_settings_bound_in_flight_work(project_modules: ModuleType) -> None:
    config = project_modules.Lendstream.config
    assert config["topology.workers"] == 1
    assert config["topology.max.spout.pending"] >= 1
    assert config["topology.message.timeout.secs"] > 4 * 10  # the score bolt's retry chain


def test_the_save_bolt_ticks_to_write_its_metrics(project_modules: ModuleType) -> None:
    bolts = project_modules.Lendstream.thrift_bolts
    ticks = {
        name: json.loads(bolt.common.json_conf or "{}").get("topology.tick.tuple.freq.secs")
        for name, bolt in bolts.items()
    }
    assert ticks == {name: 5 if name == "save" else None for name in bolts}


@pytest.mark.parametrize(
    ("task_count", "expected"),
    [(1, [[0, 1, 2, 3]]), (2, [[0, 2], [1, 3]]), (3, [[0, 3], [1], [2]])],
)
def test_spout_tasks_split_the_partitions(
    project_modules: ModuleType, task_count: int, expected: list[list[int]]
) -> None:
    from spouts.kafka_batches import own_partitions  # noqa: PLC0415 - on sys.path via fixture

    assert [own_partitions({0, 1, 2, 3}, i, task_count) for i in range(task_count)] == expected


def test_a_task_finds_its_index_among_its_component(project_modules: ModuleType) -> None:
    from spouts.kafka_batches import task_position  # noqa: PLC0415 - on sys.path via fixture

    context = {
        "taskid": 7,
        "componentid": "kafka",
        "task->component": {"3": "clean", "5": "kafka", "7": "kafka", "9": "kafka"},
    }
    assert task_position(context) == (1, 3)
