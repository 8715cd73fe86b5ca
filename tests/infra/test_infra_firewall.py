"""Every node: the nftables host firewall of the common role is loaded (input policy drop, one
drop-in per service role on the host), and no daemon listens on every address but sshd and the
Storm servers that have no bind setting (the firewall keeps those to the cluster)."""

from __future__ import annotations

import json
from typing import Any

from lendstream.chaos.cluster import role_default

testinfra_hosts = ["ansible://all"]

WILDCARD_ADDRESSES = {"0.0.0.0", "*", "[::]", "::"}


def _storm_wildcard_ports() -> set[int]:
    """Nimbus's and the supervisor's Thrift servers and the worker slots (Netty) bind every
    address: Storm 2.8 has no setting for their address."""
    return {
        int(role_default("storm", "storm_nimbus_thrift_port")),
        int(role_default("storm", "storm_supervisor_thrift_port")),
        *(int(port) for port in role_default("storm", "storm_supervisor_slots_ports")),
    }


def _ruleset(host: Any) -> list[dict[str, Any]]:
    with host.sudo():
        result = host.run("nft --json list table inet lendstream")
    assert result.rc == 0, f"the lendstream table is not loaded: {result.stderr}"
    objects: list[dict[str, Any]] = json.loads(result.stdout)["nftables"]
    return objects


def test_firewall_is_loaded_and_drops_by_default(host: Any) -> None:
    chains = [entry["chain"] for entry in _ruleset(host) if "chain" in entry]
    inputs = [chain for chain in chains if chain["name"] == "input"]
    assert len(inputs) == 1, chains
    assert (inputs[0].get("hook"), inputs[0].get("policy")) == ("input", "drop")


def test_firewall_loads_at_boot(host: Any) -> None:
    assert host.service("nftables").is_enabled


def test_every_drop_in_on_disk_is_loaded(host: Any) -> None:
    with host.sudo():
        names = host.run("ls /etc/nftables.d").stdout.split()
    roles = [name.removesuffix(".nft") for name in names if name.endswith(".nft")]
    assert roles, "no service drop-in in /etc/nftables.d"
    comments = {
        str(entry["rule"].get("comment", "")).split(": ")[0]
        for entry in _ruleset(host)
        if "rule" in entry
    }
    assert set(roles) <= comments, (roles, comments)


def test_no_tcp_listener_on_every_address_but_sshd_and_storms(host: Any) -> None:
    with host.sudo():
        listeners = host.run("ss -Hltnp").stdout.splitlines()
    allowed_ports = _storm_wildcard_ports()
    offenders = []
    for line in listeners:
        fields = line.split()
        address, _, port = fields[3].rpartition(":")
        process = fields[5] if len(fields) > 5 else ""
        if address not in WILDCARD_ADDRESSES:
            continue
        if '"sshd"' in process or ('"java"' in process and int(port) in allowed_ports):
            continue
        offenders.append(line)
    assert not offenders, "listening on every address:\n" + "\n".join(offenders)
