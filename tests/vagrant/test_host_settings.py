"""Pure logic of lendstream.vagrant: networks, the accelerator choice, the box's partition table."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from lendstream.cluster import load_cluster
from lendstream.vagrant import accel, box, host


def test_the_layout_network_moves_with_each_node_keeping_its_host_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layout = load_cluster().layout("ci")
    monkeypatch.delenv("LENDSTREAM_VAGRANT_NETWORK", raising=False)
    monkeypatch.delenv("LENDSTREAM_VAGRANT_MANAGEMENT_NETWORK", raising=False)
    assert host.node_address(layout, "m2") == layout.node("m2").address
    assert host.management_network(layout) == ipaddress.IPv4Network("192.168.57.0/24")
    monkeypatch.setenv("LENDSTREAM_VAGRANT_NETWORK", "192.168.62.0/24")
    assert host.node_address(layout, "m2") == ipaddress.IPv4Address("192.168.62.12")
    assert host.management_network(layout) == ipaddress.IPv4Network("192.168.58.0/24")
    assert host.apt_proxy_url(layout).startswith("http://192.168.62.1:")


@pytest.mark.parametrize("network", ["10.0.0.0/24", "192.168.64.0/24", "192.168.62.0/23"])
def test_networks_outside_the_private_range_or_not_a_24_are_refused(
    monkeypatch: pytest.MonkeyPatch, network: str
) -> None:
    monkeypatch.setenv("LENDSTREAM_VAGRANT_NETWORK", network)
    with pytest.raises(host.HostError):
        host.private_network(load_cluster().layout("ci"))


def test_the_accelerator_can_be_forced_and_a_wrong_value_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(accel.ENV_VARIABLE, "TCG")
    assert accel.choose()[0] == "tcg"
    monkeypatch.setenv(accel.ENV_VARIABLE, "hvf")
    with pytest.raises(ValueError, match="kvm, tcg or auto"):
        accel.choose()


def test_the_box_partition_is_bootable_linux_from_1_mib_to_the_end() -> None:
    entry = box._partition_entry(2048, 16 * 2**21 - 2048)
    status, kind, start, sectors = struct.unpack("<B3xB3xII", entry)
    assert (len(entry), status, kind) == (16, 0x80, 0x83)
    assert (start, start + sectors) == (2048, 16 * 2**30 // 512)
