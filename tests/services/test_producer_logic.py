"""Pure logic of the producer: the cursor file, records and partitions, the resume state."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from kafka.partitioner.default import DefaultPartitioner
from local_processes import clean_environment, free_port

from lendstream.services.environment import SettingsError
from lendstream.services.producer import cursor as cursor_file
from lendstream.services.producer.api_client import ApplicantApiClient
from lendstream.services.producer.cursor import Cursor, CursorError
from lendstream.services.producer.messages import (
    UnpublishableEntryError,
    header_applicant_id,
    to_record,
)
from lendstream.services.producer.publisher import _State
from lendstream.services.producer.settings import ProducerSettings

TOPIC = "lendstream.applicants"


def test_missing_cursor_file_means_start() -> None:
    assert cursor_file.load(Path("/nonexistent/cursor.json"), TOPIC) is None


def test_cursor_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cursor.json"
    saved = Cursor(TOPIC, after=1234, offsets={0: 10, 3: 7})
    cursor_file.save(path, saved)
    assert cursor_file.load(path, TOPIC) == saved
    assert json.loads(path.read_text())["after"] == 1234


def test_cursor_save_replaces_atomically_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "cursor.json"
    cursor_file.save(path, Cursor(TOPIC, after=1))
    inode = path.stat().st_ino
    cursor_file.save(path, Cursor(TOPIC, after=2))
    assert cursor_file.load(path, TOPIC) == Cursor(TOPIC, after=2)
    assert path.stat().st_ino != inode  # a new file renamed over the old, not rewritten in place
    assert os.listdir(tmp_path) == ["cursor.json"]


def test_cursor_of_another_topic_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cursor.json"
    cursor_file.save(path, Cursor("other.topic", after=5))
    with pytest.raises(CursorError, match=r"other\.topic"):
        cursor_file.load(path, TOPIC)


@pytest.mark.parametrize(
    "text", ["", "{", "[]", '{"topic": "lendstream.applicants"}', '{"topic": "x", "after": -1}']
)
def test_damaged_cursor_is_refused_not_reset(tmp_path: Path, text: str) -> None:
    path = tmp_path / "cursor.json"
    path.write_text(text.replace('"x"', f'"{TOPIC}"'))
    with pytest.raises(CursorError):
        cursor_file.load(path, TOPIC)


def test_record_carries_key_value_and_header() -> None:
    entry = {"id": 42, "member_id": "LC-7", "term": " 36 months", "grade": None}
    record = to_record(entry)
    assert record.applicant_id == 42
    assert record.key == b"LC-7"
    assert json.loads(record.value) == entry
    assert record.headers == [("applicant_id", b"42")]
    assert header_applicant_id(record.headers) == 42


def test_record_without_member_id_has_no_key() -> None:
    assert to_record({"id": 3, "member_id": None}).key is None
    assert to_record({"id": 3}).key is None


def test_odd_strings_still_make_valid_json() -> None:
    entry = {"id": 5, "member_id": "M", "emp_length": "\ud800 \x00 ünïcode"}
    assert json.loads(to_record(entry).value) == entry


@pytest.mark.parametrize(
    "entry", [None, "text", 7, [1], {}, {"id": "5"}, {"id": 0}, {"id": True}, {"id": 1.5}]
)
def test_entries_without_a_row_id_are_unpublishable(entry: Any) -> None:
    with pytest.raises(UnpublishableEntryError):
        to_record(entry)


class _Cluster:
    """Just enough cluster metadata for kafka-python's DefaultPartitioner."""

    def __init__(self, partitions: int) -> None:
        self._partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {TOPIC}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self._partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self._partitions


@pytest.mark.parametrize("partitions", [1, 4, 7])
def test_keyed_partition_is_kafkas_default(partitions: int) -> None:
    cluster = _Cluster(partitions)
    for number in range(300):
        record = to_record({"id": number + 1, "member_id": f"LC16Q1-{number:06d}"})
        expected = DefaultPartitioner().partition(TOPIC, None, record.key, None, None, cluster)
        assert record.partition(partitions) == expected


def test_keyless_partition_is_deterministic() -> None:
    assert [to_record({"id": i}).partition(4) for i in range(1, 9)] == [1, 2, 3, 0, 1, 2, 3, 0]


def test_header_parsing_tolerates_garbage() -> None:
    assert header_applicant_id(None) is None
    assert header_applicant_id([("other", b"1")]) is None
    assert header_applicant_id([("applicant_id", b"x1")]) is None
    assert header_applicant_id([("applicant_id", b"\xff")]) is None


def test_state_keeps_reading_back_from_the_start_while_skips_lie_ahead() -> None:
    state = _State(
        partitions=2,
        after=100,
        start_offsets={0: 40, 1: 50},
        latest_offsets={0: 45, 1: 52},
        pending_skip={101, 103, 150},
    )
    state.acknowledged(0, 60)
    state.advance(120)
    assert state.pending_skip == {150}
    assert state.cursor(TOPIC) == Cursor(TOPIC, after=120, offsets={0: 40, 1: 50})
    state.acknowledged(1, 70)
    state.advance(150)
    assert state.pending_skip == set()
    assert state.cursor(TOPIC) == Cursor(TOPIC, after=150, offsets={0: 61, 1: 71})


def test_metrics_endpoint_is_off_unless_a_port_is_set() -> None:
    assert ProducerSettings.from_env({}).metrics_port is None
    assert ProducerSettings.from_env({"LENDSTREAM_PRODUCER_METRICS_PORT": " "}).metrics_port is None
    settings = ProducerSettings.from_env(
        {
            "LENDSTREAM_PRODUCER_METRICS_PORT": "8092",
            "LENDSTREAM_PRODUCER_METRICS_ADDRESS": "192.168.61.13",
        }
    )
    assert (settings.metrics_address, settings.metrics_port) == ("192.168.61.13", 8092)
    assert ProducerSettings.from_env({}).metrics_address == "127.0.0.1"


@pytest.mark.parametrize("port", ["http", "0", "65536"])
def test_a_bad_metrics_port_is_refused_by_name(port: str) -> None:
    with pytest.raises(SettingsError, match="LENDSTREAM_PRODUCER_METRICS_PORT"):
        ProducerSettings.from_env({"LENDSTREAM_PRODUCER_METRICS_PORT": port})


def test_a_taken_metrics_port_stops_the_producer_with_a_clear_error(tmp_path: Path) -> None:
    """Before it touches the API or Kafka: both point at dead ports here."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "lendstream.services.producer", "--until-empty"],
            env=clean_environment(
                {
                    "LENDSTREAM_API_URL": f"http://127.0.0.1:{free_port()}",
                    "LENDSTREAM_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
                    "LENDSTREAM_PRODUCER_CURSOR_FILE": str(tmp_path / "cursor.json"),
                    "LENDSTREAM_PRODUCER_METRICS_PORT": str(port),
                }
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"cannot serve /metrics on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cursor.json").exists()


def _keep_alive_then_drop_server(connections: int) -> tuple[socket.socket, list[int]]:
    """A loopback API that answers the first request on a connection with keep-alive, then reads
    the next request on it and closes without an answer (an idle keep-alive connection closed
    by the server just as the client reused it); every later connection gets its answer."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    answered: list[int] = []
    body = json.dumps({"applicants": [], "next_after": None}).encode()
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n".encode()
        + body
    )

    def serve() -> None:
        for connection_number in range(1, connections + 1):
            connection, _ = listener.accept()
            with connection:
                connection.settimeout(10)
                connection.recv(65536)
                answered.append(connection_number)  # before the answer: the client may be quicker
                connection.sendall(answer)
                if connection_number == 1:
                    connection.recv(65536)  # the reused connection's request: no answer

    threading.Thread(target=serve, daemon=True).start()
    return listener, answered


def test_a_page_whose_keep_alive_connection_was_dropped_is_asked_again_once() -> None:

    # The race itself: a plain session's second request fails on the dropped connection.
    listener, answered = _keep_alive_then_drop_server(1)
    with listener, requests.Session() as plain:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1/applicants"
        assert plain.get(url, timeout=5).status_code == 200
        with pytest.raises(requests.ConnectionError):
            plain.get(url, timeout=5)
    # The producer's client asks again on a new connection and gets its page.
    listener, answered = _keep_alive_then_drop_server(2)
    with listener:
        client = ApplicantApiClient(f"http://127.0.0.1:{listener.getsockname()[1]}", 5)
        assert client.page(0, 10).entries == []
        assert client.page(0, 10).entries == []
        client.close()
    assert answered == [1, 2]
