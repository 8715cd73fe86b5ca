"""pystorm's multilang codec swapped for the standard library's: the same messages on the wire."""

from __future__ import annotations

import io
import threading

from pystorm.serializers import json_serializer
from pystorm.serializers.json_serializer import JSONSerializer

from lendstream.pipeline.multilang_json import use_stdlib_json


def round_trip(message: dict[str, object]) -> tuple[bytes, object]:
    output = io.BytesIO()
    writer = JSONSerializer(io.BytesIO(), output, threading.RLock(), threading.RLock())
    writer.send_message(message)
    writer.output_stream.flush()
    wire = output.getvalue()
    reader = JSONSerializer(io.BytesIO(wire), io.BytesIO(), threading.RLock(), threading.RLock())
    return wire, reader.read_message()


def test_messages_are_the_same_on_the_wire_and_back() -> None:
    message = {
        "command": "emit",
        "tuple": ['[["M-1","{\\"a\\": \\"é\\"}"]]', None],
        "id": "7@0:1-2",
    }
    original = json_serializer.json
    try:
        before = round_trip(message)
        use_stdlib_json()
        after = round_trip(message)
    finally:
        json_serializer.json = original
    assert after == before
    assert after[1] == message
