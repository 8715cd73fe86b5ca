"""The cluster description (cluster.yml): layouts, nodes, addresses, sizes and Ansible groups.

One file names every node; the Ansible inventories, the Vagrantfile and the simulated cluster all
derive from it. This module loads and checks it, resolves the group placement for a layout and
renders the Ansible inventory. `python -m lendstream.cluster write-inventories` regenerates the
checked-in inventories; `check-inventories` fails if they drifted.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lendstream import cli

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DESCRIPTION = REPO_ROOT / "cluster.yml"
INVENTORIES_DIR = REPO_ROOT / "ansible" / "inventories"
ROLES = ("master", "worker")
ROLE_GROUPS = {"master": "masters", "worker": "workers"}
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,14}$")
_SELECTOR = re.compile(r"^(masters|workers)(?:\.([1-9][0-9]*))?$")


class ClusterDescriptionError(ValueError):
    """cluster.yml is malformed or inconsistent; the message says where."""


@dataclass(frozen=True)
class Size:
    memory_mib: int
    cpus: int


@dataclass(frozen=True)
class Node:
    name: str
    address: ipaddress.IPv4Address
    roles: tuple[str, ...]
    size: Size
    domain: str

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.domain}"


@dataclass(frozen=True)
class GroupPlacement:
    name: str
    selectors: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Layout:
    name: str
    description: str
    network: ipaddress.IPv4Network
    nodes: tuple[Node, ...]
    placements: tuple[GroupPlacement, ...]
    # cluster.yml's `tls`: every inventory's lendstream_tls (docs/security.md).
    tls: bool = True

    @property
    def domain(self) -> str:
        return self.nodes[0].domain

    @property
    def host_address(self) -> ipaddress.IPv4Address:
        """The host's address on the layout's network (.1): bridge, gateway and apt proxy."""
        return self.network.network_address + 1

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"layout {self.name!r} has no node {name!r}")

    def with_role(self, role: str) -> tuple[Node, ...]:
        return tuple(node for node in self.nodes if role in node.roles)

    def groups(self) -> dict[str, tuple[str, ...]]:
        """Ansible group -> node names: `masters`, `workers` and every service group."""
        groups: dict[str, tuple[str, ...]] = {
            ROLE_GROUPS[role]: tuple(n.name for n in self.with_role(role)) for role in ROLES
        }
        for placement in self.placements:
            members: list[str] = []
            for selector in placement.selectors:
                for name in self._select(selector, placement.name):
                    if name not in members:
                        members.append(name)
            groups[placement.name] = tuple(members)
        return groups

    def _select(self, selector: str, group: str) -> tuple[str, ...]:
        match = _SELECTOR.match(selector)
        if match is None:
            raise ClusterDescriptionError(
                f"group {group!r}: selector {selector!r} is not masters, workers, masters.N "
                "or workers.N"
            )
        role = "master" if match.group(1) == "masters" else "worker"
        candidates = self.with_role(role)
        if match.group(2) is None:
            return tuple(n.name for n in candidates)
        index = int(match.group(2))
        if index > len(candidates):
            raise ClusterDescriptionError(
                f"group {group!r}: layout {self.name!r} has {len(candidates)} {role}s, "
                f"so {selector!r} names none"
            )
        return (candidates[index - 1].name,)


@dataclass(frozen=True)
class ClusterDescription:
    domain: str
    layouts: Mapping[str, Layout]

    def layout(self, name: str) -> Layout:
        try:
            return self.layouts[name]
        except KeyError:
            known = ", ".join(sorted(self.layouts))
            raise ClusterDescriptionError(f"no layout {name!r} (known: {known})") from None


def load_cluster(path: Path = DEFAULT_DESCRIPTION) -> ClusterDescription:
    """Load and check cluster.yml; raise ClusterDescriptionError naming what is wrong."""
    with path.open(encoding="utf-8") as stream:
        document = yaml.safe_load(stream)
    return parse_cluster(document)


def parse_cluster(document: Any) -> ClusterDescription:
    root = _mapping(document, "cluster description")
    domain = _string(root.get("domain"), "domain")
    tls = root.get("tls", True)
    if not isinstance(tls, bool):
        raise ClusterDescriptionError(f"tls must be true or false, not {tls!r}")
    placements = _parse_placements(_mapping(root.get("groups"), "groups"))
    layouts_doc = _mapping(root.get("layouts"), "layouts")
    if not layouts_doc:
        raise ClusterDescriptionError("layouts: at least one layout is needed")
    layouts = {
        name: dataclasses.replace(
            _parse_layout(str(name), _mapping(body, f"layout {name}"), domain, placements), tls=tls
        )
        for name, body in layouts_doc.items()
    }
    return ClusterDescription(domain=domain, layouts=layouts)


def _parse_placements(groups_doc: Mapping[str, Any]) -> tuple[GroupPlacement, ...]:
    placements = []
    for name, body in groups_doc.items():
        where = f"group {name}"
        group = _mapping(body, where)
        hosts = group.get("hosts")
        if not isinstance(hosts, list) or not hosts:
            raise ClusterDescriptionError(f"{where}: hosts must be a non-empty list of selectors")
        reason = _string(group.get("reason"), f"{where}: reason")
        if str(name) in ROLE_GROUPS.values():
            raise ClusterDescriptionError(f"{where}: the name is reserved for the role group")
        placements.append(GroupPlacement(str(name), tuple(str(h) for h in hosts), reason))
    return tuple(placements)


def _parse_layout(
    name: str, body: Mapping[str, Any], domain: str, placements: tuple[GroupPlacement, ...]
) -> Layout:
    where = f"layout {name}"
    if not _NAME.match(name):
        raise ClusterDescriptionError(f"{where}: name must match {_NAME.pattern}")
    try:
        network = ipaddress.IPv4Network(_string(body.get("network"), f"{where}: network"))
    except ValueError as error:
        raise ClusterDescriptionError(f"{where}: network: {error}") from None
    if network.prefixlen != 24 or not network.is_private:
        raise ClusterDescriptionError(f"{where}: network {network} must be a private /24")
    sizes_doc = _mapping(body.get("sizes"), f"{where}: sizes")
    sizes = {role: _parse_size(sizes_doc.get(role), f"{where}: sizes.{role}") for role in ROLES}
    nodes_doc = body.get("nodes")
    if not isinstance(nodes_doc, list) or not nodes_doc:
        raise ClusterDescriptionError(f"{where}: nodes must be a non-empty list")
    nodes = tuple(
        _parse_node(_mapping(entry, f"{where}: node"), where, domain, network, sizes)
        for entry in nodes_doc
    )
    _check_unique(where, "node name", [n.name for n in nodes])
    _check_unique(where, "address", [str(n.address) for n in nodes])
    for role in ROLES:
        if not any(role in n.roles for n in nodes):
            raise ClusterDescriptionError(f"{where}: no node has the role {role}")
    layout = Layout(
        name=name,
        description=_string(body.get("description"), f"{where}: description"),
        network=network,
        nodes=nodes,
        placements=placements,
    )
    # Resolves every selector now, so a bad one fails at load time.
    check_thrift_beside_supervisors(layout.groups(), where)
    return layout


def check_thrift_beside_supervisors(groups: Mapping[str, Sequence[str]], where: str) -> None:
    """The topology's save bolts write through their own node's HBase Thrift server, which
    listens on 127.0.0.1 only (docs/security.md): every ``storm_supervisor`` host must be in
    ``hbase_thrift``. Raises ClusterDescriptionError naming the hosts that are not."""
    thrift = set(groups.get("hbase_thrift", ()))
    missing = [host for host in groups.get("storm_supervisor", ()) if host not in thrift]
    if missing:
        raise ClusterDescriptionError(
            f"{where}: Storm supervisors without an HBase Thrift server: {', '.join(missing)}; "
            "the save bolts write through their own node's Thrift server (it listens on "
            "127.0.0.1 only), so group hbase_thrift must hold every storm_supervisor host"
        )


def _parse_node(
    entry: Mapping[str, Any],
    layout_where: str,
    domain: str,
    network: ipaddress.IPv4Network,
    sizes: Mapping[str, Size],
) -> Node:
    name = _string(entry.get("name"), f"{layout_where}: node name")
    where = f"{layout_where}: node {name}"
    if not _NAME.match(name):
        raise ClusterDescriptionError(f"{where}: name must match {_NAME.pattern}")
    try:
        address = ipaddress.IPv4Address(_string(entry.get("address"), f"{where}: address"))
    except ValueError as error:
        raise ClusterDescriptionError(f"{where}: {error}") from None
    host_address = network.network_address + 1
    if address not in network or address in (
        network.network_address,
        network.broadcast_address,
        host_address,
    ):
        raise ClusterDescriptionError(
            f"{where}: address {address} must be a host address of {network} other than "
            f"{host_address} (the host's)"
        )
    roles = entry.get("roles")
    if not isinstance(roles, list) or not roles or any(r not in ROLES for r in roles):
        raise ClusterDescriptionError(f"{where}: roles must be a non-empty list of {ROLES}")
    first_role = sizes[roles[0]]
    size = Size(
        memory_mib=_positive(entry.get("memory_mib", first_role.memory_mib), f"{where}: memory"),
        cpus=_positive(entry.get("cpus", first_role.cpus), f"{where}: cpus"),
    )
    return Node(name=name, address=address, roles=tuple(roles), size=size, domain=domain)


def _parse_size(value: Any, where: str) -> Size:
    body = _mapping(value, where)
    return Size(
        memory_mib=_positive(body.get("memory_mib"), f"{where}.memory_mib"),
        cpus=_positive(body.get("cpus"), f"{where}.cpus"),
    )


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ClusterDescriptionError(f"{where}: expected a mapping, got {value!r}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ClusterDescriptionError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _positive(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ClusterDescriptionError(f"{where}: expected a positive integer, got {value!r}")
    return value


def _check_unique(where: str, what: str, values: Sequence[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ClusterDescriptionError(f"{where}: {what} {value} appears twice")
        seen.add(value)


# --- Ansible inventory ------------------------------------------------------------------------


def inventory(
    layout: Layout,
    host_vars: Mapping[str, Mapping[str, Any]] | None = None,
    all_vars: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The layout as an Ansible YAML inventory: every node under `all`, each group's members.

    host_vars adds variables per node (beside ansible_host); all_vars adds variables for all
    hosts, beside lendstream_domain and lendstream_tls (cluster.yml's domain and tls).
    """
    hosts: dict[str, dict[str, Any]] = {}
    for node in layout.nodes:
        variables: dict[str, Any] = {"ansible_host": str(node.address)}
        variables.update((host_vars or {}).get(node.name, {}))
        hosts[node.name] = variables
    children = {
        group: {"hosts": {name: None for name in members}}
        for group, members in layout.groups().items()
    }
    body: dict[str, Any] = {"hosts": hosts}
    body["vars"] = {
        "lendstream_domain": layout.domain,
        "lendstream_tls": layout.tls,
        **(all_vars or {}),
    }
    body["children"] = children
    return {"all": body}


def inventory_text(layout: Layout, header: str, **extra: Any) -> str:
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    document = yaml.safe_dump(inventory(layout, **extra), sort_keys=False, default_flow_style=False)
    return comment + document.replace(": null\n", ":\n")


def checked_in_inventory_path(layout_name: str) -> Path:
    return INVENTORIES_DIR / layout_name / "hosts.yml"


def checked_in_inventory_text(layout: Layout) -> str:
    header = (
        f"Layout {layout.name}: {layout.description}.\n"
        "GENERATED from cluster.yml by `python -m lendstream.cluster write-inventories`;\n"
        "do not edit (tests/vcluster/test_agreement.py fails if it drifts).\n"
        "Group placement and its reasons: cluster.yml."
    )
    return inventory_text(layout, header)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream cluster`'s arguments (lendstream.cli.cluster)."""
    parser.add_argument("command", choices=["write-inventories", "check-inventories", "groups"])
    parser.add_argument("--layout", help="only this layout (default: every layout)")


def run_command(args: argparse.Namespace) -> int:
    description = load_cluster()
    names = [args.layout] if args.layout else sorted(description.layouts)
    drifted = []
    for name in names:
        layout = description.layout(name)
        path = checked_in_inventory_path(name)
        text = checked_in_inventory_text(layout)
        if args.command == "groups":
            for group, members in layout.groups().items():
                print(f"{name:8} {group:22} {' '.join(members)}")
        elif args.command == "write-inventories":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            drifted.append(str(path.relative_to(REPO_ROOT)))
    if drifted:
        print(
            "out of date with cluster.yml: " + ", ".join(drifted) + "\n"
            "run: python -m lendstream.cluster write-inventories",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run_subcommand("cluster", argv)


if __name__ == "__main__":
    sys.exit(main())
