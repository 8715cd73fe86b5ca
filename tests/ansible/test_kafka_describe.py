"""The kafka role's reading of `kafka-topics --describe` (its health gate's under-replicated
check and its topics step share one description): an in-sync partition passes, one with fewer
in-sync replicas than replicas or without a leader is named, and every topic is listed. The
output is laid out as Kafka 4.4's TopicCommand prints it (tab-separated, a partition line each)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PLAYBOOK = Path(__file__).resolve().parent / "render-kafka-describe.yml"


def _line(topic: str, partition: int, leader: str, replicas: str, isr: str) -> str:
    return (
        f"\tTopic: {topic}\tPartition: {partition}\tLeader: {leader}\tReplicas: {replicas}"
        f"\tIsr: {isr}\tElr: \tLastKnownElr: "
    )


def _header(topic: str, partitions: int) -> str:
    return (
        f"Topic: {topic}\tTopicId: 4kQd3VrXQ2mY1bJ9oYyq8w\tPartitionCount: {partitions}"
        "\tReplicationFactor: 3\tConfigs: min.insync.replicas=2"
    )


def _read(output: str, tmp_path: Path) -> dict[str, object]:
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [
            str(bin_dir / "ansible-playbook"),
            "-i",
            "localhost,",
            "-e",
            json.dumps({"describe_output": output, "render_dir": str(tmp_path)}),
            str(PLAYBOOK),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    loaded: dict[str, object] = json.loads((tmp_path / "described.json").read_text())
    return loaded


def test_in_sync_partitions_pass_and_every_topic_is_listed(tmp_path: Path) -> None:
    output = "\n".join(
        [
            _header("lendstream.applicants", 2),
            _line("lendstream.applicants", 0, "1", "1,2,3", "1,2,3"),
            _line("lendstream.applicants", 1, "2", "2,3,1", "3,1,2"),
            _header("lendstream.applicants.dlq", 1),
            _line("lendstream.applicants.dlq", 0, "3", "3,1,2", "3,1,2"),
        ]
    )
    assert _read(output, tmp_path) == {
        "under_replicated": "",
        "topics": ["lendstream.applicants", "lendstream.applicants.dlq"],
    }


def test_a_partition_short_of_replicas_or_without_a_leader_is_named(tmp_path: Path) -> None:
    output = "\n".join(
        [
            _header("lendstream.applicants", 3),
            _line("lendstream.applicants", 0, "1", "1,2,3", "1,2,3"),
            _line("lendstream.applicants", 1, "2", "2,3,1", "2,1"),
            _line("lendstream.applicants", 2, "none", "3", ""),
        ]
    )
    described = _read(output, tmp_path)
    assert described["under_replicated"] == "lendstream.applicants-1, lendstream.applicants-2"
