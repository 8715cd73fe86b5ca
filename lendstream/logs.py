"""The last lines of one daemon's log on one cluster node, read over the inventory's SSH (Ansible).

    lendstream logs --inventory ansible/inventories/montana/hosts.yml --host m1 --component kafka

Every daemon logs to the journal: a component is the lendstream unit without its prefix
(`kafka`, `zookeeper`, `hdfs-namenode`, `yarn-resourcemanager`, `hbase-regionserver`,
`storm-nimbus`, `storm-supervisor`, `risk-service`, …) or any unit's full name (`prometheus`).
`storm-worker` is the one file-based log: the newest worker.log of the node's Storm workers
(under the storm role's `<storm_log_dir>/workers-artifacts/<topology>/<port>/`). Prints the lines
and exits 0; a host the inventory lacks, an unreachable node or an unknown component is an error
that names what is there instead (exit 1, or the remote command's status).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lendstream.chaos.cluster import ansible_json_environment, role_default, run_ansible
from lendstream.secrets import default_password_file

STORM_WORKER = "storm-worker"
UNIT_PREFIX = "lendstream-"
DEFAULT_LINES = 100
ANSIBLE_TIMEOUT_S = 180.0
COMPONENT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9@._-]*")
NO_SUCH_COMPONENT = 3  # the remote command's status when the node has no such unit or log


class LogsError(RuntimeError):
    """The log could not be read (not a finding about the daemon)."""


@dataclass(frozen=True)
class RemoteResult:
    stdout: str
    stderr: str
    rc: int


def storm_log_dir_default() -> str:
    """The storm role's default log directory (its home is the role's defaults)."""
    return str(role_default("storm", "storm_log_dir"))


def remote_command(component: str, lines: int, storm_log_dir: str) -> str:
    """The shell command that prints the component's last ``lines`` log lines on the node."""
    if not COMPONENT_PATTERN.fullmatch(component):
        raise LogsError(f"not a component name: {component!r}")
    if lines < 1:
        raise LogsError(f"--lines must be at least 1, not {lines}")
    if component == STORM_WORKER:
        artifacts = shlex.quote(f"{storm_log_dir}/workers-artifacts")
        return (
            f"newest=$(ls -t {artifacts}/*/*/worker.log 2>/dev/null | head -n 1); "
            f'if [ -z "$newest" ]; then echo "no worker.log under "{artifacts} >&2; '
            f"exit {NO_SUCH_COMPONENT}; fi; "
            f'echo "==> $newest <=="; exec tail -n {lines} "$newest"'
        )
    own = component.startswith(UNIT_PREFIX)
    units = [component] if own else [UNIT_PREFIX + component, component]
    candidates = " ".join(shlex.quote(unit) for unit in units)
    return (
        f"for unit in {candidates}; do "
        'if systemctl cat "$unit.service" >/dev/null 2>&1; then '
        f'exec journalctl --unit "$unit" --lines {lines} --no-pager --output short-iso; fi; '
        "done; "
        f'echo "no unit {" or ".join(units)} on this node; its lendstream units:" >&2; '
        f"systemctl list-units --all --no-legend --plain '{UNIT_PREFIX}*' >&2; "
        f"exit {NO_SUCH_COMPONENT}"
    )


def run_on_host(
    inventory: Path, host: str, command: str, vault_password_file: Path | None
) -> RemoteResult:
    """``command`` on ``host`` through an ad-hoc ``ansible`` call with root (journalctl needs
    it), the project's ansible.cfg and the inventory's connection settings."""
    bin_dir = Path(sys.executable).parent
    environment = ansible_json_environment(vault_password_file)
    argv = [
        str(bin_dir / "ansible"),
        host,
        "-i",
        str(inventory.resolve()),
        "--become",
        "-m",
        "ansible.builtin.shell",
        "-a",
        command,
    ]
    try:
        result = run_ansible(argv, environment, ANSIBLE_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise LogsError(f"{host}: no answer in {ANSIBLE_TIMEOUT_S:.0f} s") from error
    return host_result(host, inventory, result.stdout, result.stderr)


def host_result(host: str, inventory: Path, stdout: str, stderr: str) -> RemoteResult:
    """The host's result in the json callback's report of an ad-hoc call."""
    try:
        report: dict[str, Any] = json.loads(stdout)
        hosts: dict[str, Any] = report["plays"][0]["tasks"][0]["hosts"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LogsError(
            f"{host} is not a host of {inventory}, or ansible failed:\n{stderr[-2000:]}"
        ) from None
    if host not in hosts:
        raise LogsError(f"{host} is not a host of {inventory} (known: {', '.join(hosts)})")
    outcome = hosts[host]
    if outcome.get("unreachable"):
        raise LogsError(f"{host} is unreachable: {outcome.get('msg', '')}")
    if "rc" not in outcome:
        raise LogsError(f"{host}: {outcome.get('msg', 'the command did not run')}")
    return RemoteResult(outcome.get("stdout", ""), outcome.get("stderr", ""), int(outcome["rc"]))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--inventory", type=Path, required=True, help="the inventory file")
    parser.add_argument("--host", required=True, help="the node, as the inventory names it")
    parser.add_argument(
        "--component",
        required=True,
        help=f"unit without '{UNIT_PREFIX}' (kafka, hdfs-namenode, …), a unit, or {STORM_WORKER}",
    )
    parser.add_argument("--lines", type=int, default=DEFAULT_LINES, help="how many lines")
    parser.add_argument(
        "--storm-log-dir",
        default=None,
        help="storm_log_dir on the node (default: the storm role's default)",
    )
    parser.add_argument(
        "--vault-password-file",
        type=Path,
        default=None,
        help="default: the inventory's (lendstream secrets), when it exists",
    )


def run_command(args: argparse.Namespace) -> int:
    inventory: Path = args.inventory
    password_file = args.vault_password_file or default_password_file(inventory.parent)
    try:
        if not inventory.is_file():
            raise LogsError(f"no inventory file {inventory}")
        command = remote_command(
            args.component, args.lines, args.storm_log_dir or storm_log_dir_default()
        )
        result = run_on_host(
            inventory, args.host, command, password_file if password_file.is_file() else None
        )
    except LogsError as error:
        print(f"lendstream logs: {error}", file=sys.stderr)
        return 1
    if result.stdout:
        print(result.stdout)
    if result.stderr:
        print(result.stderr, file=sys.stderr)
    return result.rc
