"""The host firewall the roles generate: each role's drop-in and the base ruleset, rendered with the
common role's own task files for a ci host and loaded by the real nftables in a private network
namespace; and every port a role's templates bind opened by that role's rules.

The rules do not depend on the host (only the addresses of "cluster" and "controller" do, and
those are the same for every ci host), so one host, m1, stands for the layout.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from render_playbook import run_render_playbook

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPOSITORY_ROOT / "ansible"
ROLES_DIR = ANSIBLE_DIR / "roles"
CI_INVENTORY = ANSIBLE_DIR / "inventories" / "ci" / "hosts.yml"
RENDER_PLAYBOOK = Path(__file__).resolve().parent / "render-firewall.yml"
RENDER_TIMEOUT_S = 600
NFT_TIMEOUT_S = 30
HOST = "m1"
# render-firewall.yml's controller: the vcluster host's address on the ci bridge.
CONTROLLER = "192.168.61.1"
# Port variables a role's templates name for a service it connects to, not one it listens on.
CLIENT_PORT_VARIABLES = {
    "hbase_zookeeper_port",
    "hdfs_zookeeper_port",
    "storm_zookeeper_port",
    "yarn_zookeeper_port",
    "applicant_api_mysql_port",
    # Bound to 127.0.0.1 (alertmanager's own webhook receiver; HBase's Thrift server and its web
    # UI, hbase_thrift_address): nothing to open.
    "alertmanager_log_receiver_port",
    "hbase_thrift_port",
    "hbase_thrift_info_port",
    # sshd's, opened by the base ruleset itself (the common role's).
    "common_firewall_ssh_port",
}
PORT_VARIABLE = re.compile(r"\b([a-z][a-z0-9_]*_ports?(?:_range)?)\b")


def _defaults(role: str) -> dict[str, Any]:
    return yaml.safe_load((ROLES_DIR / role / "defaults/main.yml").read_text()) or {}


FIREWALL_ROLES = sorted(
    path.name
    for path in ROLES_DIR.iterdir()
    # common's own common_firewall_rules is the input of its firewall_rules entry point.
    if path.name != "common"
    and (path / "defaults/main.yml").is_file()
    and f"{path.name}_firewall_rules" in _defaults(path.name)
)


def _nft() -> str:
    path = shutil.which("nft")
    assert path, "nft is missing: run bin/bootstrap (Debian's nftables)"
    return path


def _nft_check(path: Path) -> subprocess.CompletedProcess[str]:
    """`nft -c -f` in a private network namespace (root), as the roles' validate does."""
    return subprocess.run(
        ["unshare", "--net", _nft(), "-c", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=NFT_TIMEOUT_S,
        check=False,
    )


@dataclass(frozen=True)
class RenderedFirewall:
    root: Path

    @property
    def base(self) -> Path:
        return self.root / "nftables.conf"

    def dropin(self, role: str) -> Path:
        return self.root / "nftables.d" / f"{role}.nft"

    def rules(self, role: str) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = json.loads((self.root / f"{role}.rules.json").read_text())
        return rules

    def loaded(self) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = json.loads((self.root / "loaded.json").read_text())[
            "nftables"
        ]
        return objects


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> RenderedFirewall:
    _nft()
    root = tmp_path_factory.mktemp("firewall")
    extra_vars = {"render_dir": str(root), "firewall_roles": FIREWALL_ROLES}
    run_render_playbook(
        RENDER_PLAYBOOK,
        extra_vars,
        timeout_s=RENDER_TIMEOUT_S,
        limit=HOST,
        wrapper=("unshare", "--net"),
    )
    return RenderedFirewall(root / HOST)


def _ci_addresses() -> list[str]:
    inventory = yaml.safe_load(CI_INVENTORY.read_text())
    return [host["ansible_host"] for host in inventory["all"]["hosts"].values()]


def _input_chain(loaded: list[dict[str, Any]]) -> dict[str, Any]:
    chains = [
        entry["chain"]
        for entry in loaded
        if "chain" in entry
        and entry["chain"]["table"] == "lendstream"
        and entry["chain"]["name"] == "input"
    ]
    assert len(chains) == 1, chains
    chain: dict[str, Any] = chains[0]
    return chain


def _input_rules(loaded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        entry["rule"]
        for entry in loaded
        if "rule" in entry
        and entry["rule"]["table"] == "lendstream"
        and entry["rule"]["chain"] == "input"
    ]


def _match(rule: dict[str, Any], protocol: str, field: str) -> Any:
    for expression in rule["expr"]:
        match = expression.get("match", {})
        payload = match.get("left", {}).get("payload", {})
        if payload.get("protocol") == protocol and payload.get("field") == field:
            return match["right"]
    return None


def _sources(rule: dict[str, Any]) -> set[str]:
    right = _match(rule, "ip", "saddr")
    if right is None:
        return set()
    return set(right["set"]) if isinstance(right, dict) else {right}


def _port(value: int | str) -> Any:
    """A rule's port as nft lists it: a number, or {"range": [first, last]}."""
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    first, last = str(value).split("-")
    return {"range": [int(first), int(last)]}


def _expected_sources(source: str | list[str]) -> set[str]:
    names = [source] if isinstance(source, str) else source
    addresses: set[str] = set()
    for name in names:
        addresses |= {"cluster": set(_ci_addresses()), "controller": {CONTROLLER}}.get(name, {name})
    return addresses


def test_every_service_role_declares_its_ports() -> None:
    # The roles that run daemons: a role added without rules would leave its ports dropped.
    assert set(FIREWALL_ROLES) >= {
        "zookeeper",
        "kafka",
        "hdfs",
        "yarn",
        "hbase",
        "storm",
        "mysql",
        "applicant_api",
        "risk_service",
        "producer",
        "node_exporter",
        "prometheus",
        "alertmanager",
    }


def test_loaded_input_chain_drops_by_default(rendered: RenderedFirewall) -> None:
    chain = _input_chain(rendered.loaded())
    assert (chain["hook"], chain["policy"]) == ("input", "drop")


def test_ssh_stays_open_to_the_controller_and_every_cluster_host(
    rendered: RenderedFirewall,
) -> None:
    ssh = [rule for rule in _input_rules(rendered.loaded()) if _match(rule, "tcp", "dport") == 22]
    assert len(ssh) == 1, ssh
    assert _sources(ssh[0]) == {CONTROLLER, *_ci_addresses()}


@pytest.mark.parametrize("role", FIREWALL_ROLES)
def test_each_rule_of_the_role_is_loaded_for_its_sources(
    rendered: RenderedFirewall, role: str
) -> None:
    loaded = [
        rule
        for rule in _input_rules(rendered.loaded())
        if str(rule.get("comment", "")).startswith(f"{role}: ")
    ]
    declared = rendered.rules(role)
    assert declared, f"{role}_firewall_rules is empty"
    for rule in declared:
        matching = [
            found
            for found in loaded
            if _match(found, rule["protocol"], "dport") == _port(rule["port"])
            and _sources(found) == _expected_sources(rule["from"])
        ]
        assert len(matching) == 1, f"{role}: {rule} not loaded once; loaded: {loaded}"


def test_no_rule_opens_the_loopback_thrift_ports(rendered: RenderedFirewall) -> None:
    # HBase's Thrift server and its web UI listen on 127.0.0.1 only (happybase has no TLS or
    # SASL): no source, the cluster's or the controller's, is let in on their ports.
    thrift = [
        int(_defaults("hbase")[name]) for name in ("hbase_thrift_port", "hbase_thrift_info_port")
    ]

    def opens_thrift(rule: dict[str, Any]) -> bool:
        port = _match(rule, "tcp", "dport")
        first, last = port["range"] if isinstance(port, dict) else (port, port)
        return port is not None and any(first <= number <= last for number in thrift)

    opened = [rule for rule in _input_rules(rendered.loaded()) if opens_thrift(rule)]
    assert not opened, opened


@pytest.mark.parametrize("role", FIREWALL_ROLES)
def test_drop_in_passes_nft_check_alone(rendered: RenderedFirewall, role: str) -> None:
    result = _nft_check(rendered.dropin(role))
    assert result.returncode == 0, result.stderr


def test_base_ruleset_with_every_drop_in_passes_nft_check(rendered: RenderedFirewall) -> None:
    result = _nft_check(rendered.base)
    assert result.returncode == 0, result.stderr


def test_nft_check_rejects_a_bad_drop_in(rendered: RenderedFirewall, tmp_path: Path) -> None:
    # The check the roles rely on can fail: a port out of range never passes.
    bad = tmp_path / "bad.nft"
    bad.write_text(rendered.dropin("zookeeper").read_text().replace("dport 2181", "dport 70000"))
    result = _nft_check(bad)
    assert result.returncode != 0
    assert "70000" in result.stderr


def _bound_port_variables(role: str) -> set[str]:
    """Port variables of the role's own (prefix) that its templates write, minus client ports."""
    names: set[str] = set()
    for template in (ROLES_DIR / role / "templates").rglob("*.j2"):
        names |= set(PORT_VARIABLE.findall(template.read_text()))
    return {name for name in names if name.startswith(f"{role}_")} - CLIENT_PORT_VARIABLES


ROLES_WITH_PORTS = sorted(
    path.name
    for path in ROLES_DIR.iterdir()
    if (path / "templates").is_dir() and _bound_port_variables(path.name)
)


def _exporter_rules(role: str) -> list[dict[str, Any]]:
    """The rules a role adds only with its JMX exporter on (vars/main.yml), else none."""
    constants = ROLES_DIR / role / "vars/main.yml"
    if not constants.exists():
        return []
    values = yaml.safe_load(constants.read_text()) or {}
    return list(values.get(f"__{role}_jmx_exporter_firewall_rules", []))


@pytest.mark.parametrize("role", ROLES_WITH_PORTS)
def test_every_port_the_templates_bind_is_in_the_roles_firewall_rules(role: str) -> None:
    rules = _defaults(role).get(f"{role}_firewall_rules")
    assert rules, f"{role}'s templates bind ports but {role}_firewall_rules is missing"
    rules = [*rules, *_exporter_rules(role)]
    opened = {name for rule in rules for name in PORT_VARIABLE.findall(str(rule["port"]))}
    missing = sorted(_bound_port_variables(role) - opened)
    assert not missing, f"{role}: ports its templates bind, not in {role}_firewall_rules: {missing}"


def _argument_spec(role: str, entry_point: str) -> dict[str, Any]:
    specs = yaml.safe_load((ROLES_DIR / role / "meta/argument_specs.yml").read_text())
    options: dict[str, Any] = specs["argument_specs"][entry_point]["options"]
    return options


def _without_descriptions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_descriptions(v) for k, v in value.items() if k != "description"}
    return value


@pytest.mark.parametrize("role", FIREWALL_ROLES)
def test_role_spec_checks_its_rules_as_the_firewall_entry_point_would(role: str) -> None:
    # The roles import common's firewall_rules without its argument check (one task per role
    # and run fewer): their own main spec must check the rules with the same options.
    expected = _argument_spec("common", "firewall_rules")["common_firewall_rules"]
    declared = _argument_spec(role, "main").get(f"{role}_firewall_rules")
    assert declared, f"{role}'s argument spec does not check {role}_firewall_rules"
    assert _without_descriptions(declared) == _without_descriptions(expected)


@pytest.mark.parametrize("role", FIREWALL_ROLES)
def test_role_opens_its_ports_before_anything_else(role: str) -> None:
    tasks = yaml.safe_load((ROLES_DIR / role / "tasks/main.yml").read_text())
    first = tasks[0]
    # Imported (no include task at run time) and not validated again by common's entry point: the
    # role's own argument spec checks the rules with the same options (render-firewall.yml still
    # renders every role's rules through the validated entry point).
    assert first.get("ansible.builtin.import_role") == {
        "name": "common",
        "tasks_from": "firewall_rules",
        "rolespec_validate": False,
    }, f"{role}/tasks/main.yml must open its ports first: {first}"
    # The role's rules, plus its JMX exporter's port only while the exporter is on.
    with_exporter = (
        f"{{{{ {role}_firewall_rules + (__{role}_jmx_exporter_firewall_rules "
        f"if {role}_jmx_exporter_enabled | bool else []) }}}}"
    )
    expected_rules = with_exporter if _exporter_rules(role) else f"{{{{ {role}_firewall_rules }}}}"
    assert first["vars"] == {
        "common_firewall_name": role,
        "common_firewall_rules": expected_rules,
    }
