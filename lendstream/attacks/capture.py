"""A packet capture on a layout's bridge that looks for applicant data in clear text.

An ``AF_PACKET`` socket bound to the bridge, in promiscuous mode (a Linux bridge in promiscuous
mode hands every frame it forwards between nodes to its own interface too), reads frames for a
bounded time in a thread. Each TCP payload is searched for the needles (applicant field values
known from the load, e.g. member ids), with the end of the previous segment of the same flow in
front, so a value split between two segments is still found; and so is every run of URL-safe
base64 in it that inflates (zlib): what the topology's tuples carried between Storm workers
before they were sealed (lendstream.pipeline.flow packs a batch so: compression, not
protection), and what an eavesdropper would try first. A flow is counted under its service
port: the side of the flow whose port is one of the services', else ``other``.

Needs root (CAP_NET_RAW). Nothing is written to disk: only counts and the first hit per port.
"""

from __future__ import annotations

import base64
import binascii
import re
import socket
import struct
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
TAIL_BYTES = 256  # of each flow's previous payload, searched with the next one
RECEIVE_BUFFER = 32 * 1024 * 1024
POLL_S = 0.2
# A run of URL-safe base64 this long or longer is tried as deflated data (a packed batch is one).
BASE64_RUN = re.compile(rb"[A-Za-z0-9_-]{64,}")
INFLATE_LIMIT = 1 << 20  # bytes inflated of one run at most
Flow = tuple[str, int, str, int]


@dataclass
class PortTraffic:
    port: int | str  # a service port, or "other"
    segments: int = 0
    payload_bytes: int = 0
    hits: int = 0
    first_hit: str = ""  # the needle and the flow it was seen in


@dataclass
class CaptureResult:
    interface: str
    seconds: float
    frames: int
    ports: dict[int | str, PortTraffic]
    needles: int

    def clear_text_ports(self) -> list[int | str]:
        return sorted((p for p, t in self.ports.items() if t.hits), key=str)


def parse_tcp(frame: bytes) -> tuple[Flow, bytes] | None:
    """(source, source port, destination, destination port) and the payload of an IPv4 TCP
    frame (Ethernet II, no VLAN), or None."""
    if len(frame) < 14 + 20 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
        return None
    ip = frame[14:]
    header_length = (ip[0] & 0x0F) * 4
    total_length = struct.unpack("!H", ip[2:4])[0]
    if ip[9] != socket.IPPROTO_TCP or len(ip) < header_length + 20:
        return None
    tcp = ip[header_length:total_length]
    source_port, destination_port = struct.unpack("!HH", tcp[:4])
    offset = (tcp[12] >> 4) * 4
    flow = (socket.inet_ntoa(ip[12:16]), source_port, socket.inet_ntoa(ip[16:20]), destination_port)
    return flow, bytes(tcp[offset:])


def inflated(run: bytes) -> bytes:
    """What a run of URL-safe base64 inflates to when it encodes zlib data from its start (a
    packed batch's first segment: enough to read its first applicants); else nothing."""
    usable = run[: len(run) // 4 * 4]
    try:
        return zlib.decompressobj().decompress(base64.urlsafe_b64decode(usable), INFLATE_LIMIT)
    except (zlib.error, binascii.Error, ValueError):
        return b""


def find_needle(pattern: re.Pattern[bytes], searched: bytes, new_from: int) -> str | None:
    """The first needle in ``searched`` that ends after ``new_from`` (before it: the end of the
    flow's previous segment, searched already): in clear, or in a base64 run that inflates
    (then named so)."""
    for match in pattern.finditer(searched):
        if match.end() > new_from:
            return match.group().decode()
    for run in BASE64_RUN.finditer(searched):
        if run.end() > new_from:
            hidden = pattern.search(inflated(run.group()))
            if hidden is not None:
                return f"{hidden.group().decode()} (deflated base64, inflated)"
    return None


def service_port(flow: Flow, services: Iterable[int]) -> int | str:
    known = set(services)
    _, source_port, _, destination_port = flow
    if destination_port in known:
        return destination_port
    if source_port in known:
        return source_port
    return "other"


@dataclass
class BridgeCapture:
    """``with BridgeCapture(bridge, needles, ports) as capture: …``; then ``capture.result``."""

    interface: str
    needles: Iterable[str]
    services: Mapping[int, str]
    max_seconds: float = 600.0
    result: CaptureResult | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _socket: socket.socket | None = None

    def __enter__(self) -> BridgeCapture:
        raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        raw.bind((self.interface, 0))
        index = socket.if_nametoindex(self.interface)
        membership = struct.pack("iHH8s", index, PACKET_MR_PROMISC, 0, b"")
        raw.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, membership)
        raw.settimeout(POLL_S)
        self._socket = raw
        self._thread = threading.Thread(target=self._read, name="bridge-capture", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._socket is not None:
            self._socket.close()  # the promiscuous membership goes with it

    def _read(self) -> None:
        assert self._socket is not None
        values = sorted({needle for needle in self.needles if needle}, key=len, reverse=True)
        pattern = (
            re.compile(b"|".join(re.escape(value.encode()) for value in values)) if values else None
        )
        ports: dict[int | str, PortTraffic] = {}
        tails: dict[Flow, bytes] = defaultdict(bytes)
        frames = 0
        started = time.monotonic()
        while not self._stop.is_set() and time.monotonic() - started < self.max_seconds:
            try:
                frame, _address = self._socket.recvfrom(65535)
            except TimeoutError:
                continue
            frames += 1
            parsed = parse_tcp(frame)
            if parsed is None or not parsed[1]:
                continue
            flow, payload = parsed
            port = service_port(flow, self.services)
            traffic = ports.setdefault(port, PortTraffic(port))
            traffic.segments += 1
            traffic.payload_bytes += len(payload)
            if pattern is None:
                continue
            searched = tails[flow] + payload
            needle = find_needle(pattern, searched, len(tails[flow]))
            if needle is not None:
                traffic.hits += 1
                if not traffic.first_hit:
                    source, sport, destination, dport = flow
                    traffic.first_hit = f"{needle} in {source}:{sport} > {destination}:{dport}"
            tails[flow] = searched[-TAIL_BYTES:]
        self.result = CaptureResult(
            self.interface, round(time.monotonic() - started, 1), frames, ports, len(values)
        )


def table(
    result: CaptureResult,
    services: Mapping[int, str],
    encrypted: Iterable[int],
    sealed: Iterable[int] = (),
) -> str:
    """port → service → segments → bytes → applicant values seen → clear text? (``sealed``:
    ports whose payload the application seals, the Storm workers' with lendstream_tls)"""
    tls = set(encrypted)
    sealing = set(sealed)
    header = ("port", "service", "segments", "payload bytes", "hits", "clear-text applicant data")
    rows = [header]
    for port in sorted(result.ports, key=lambda p: (isinstance(p, str), str(p).zfill(6))):
        traffic = result.ports[port]
        name = services.get(port, "") if isinstance(port, int) else "ephemeral/other"
        if traffic.hits:
            verdict = "YES: " + traffic.first_hit
        else:
            verdict = (
                "none (TLS)"
                if port in tls
                else "none (sealed tuples)"
                if port in sealing
                else "none seen"
            )
        rows.append(
            (
                str(port),
                name,
                str(traffic.segments),
                str(traffic.payload_bytes),
                str(traffic.hits),
                verdict,
            )
        )
    return text_table(rows)


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows (the header first) as left-aligned columns, a rule under the header."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
