"""`lendstream status --inventory FILE`: one screen of a deployed cluster's health.

Each lendstream service on each node (systemd), ZooKeeper's quorum, Kafka's controller quorum,
brokers and partitions, HDFS's active NameNode and DataNodes, YARN's active ResourceManager and
NodeManagers, HBase's active master, RegionServers and Thrift servers, Storm's leading nimbus,
supervisors and topology, the pipeline (risk-service and applicant-API health, consumer lag,
dead letters against applicants published in the last minutes, the risk service's p99) and
Alertmanager's firing alerts when one answers. Read-only; every call bounded. The last line is
HEALTHY or UNHEALTHY: <what>. Exit status: 0 healthy, 1 unhealthy, 2 the status cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lendstream.secrets import default_password_file

EXIT_HEALTHY, EXIT_UNHEALTHY, EXIT_CANNOT_RUN = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inventory", type=Path, required=True, help="Ansible inventory file")
    parser.add_argument(
        "--vault-password-file",
        type=Path,
        help="the inventory's Vault password file (default: $ANSIBLE_VAULT_PASSWORD_FILE, else "
        "~/.config/lendstream/vault/<inventory directory name>.pass when it exists)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document instead")
    parser.add_argument("--timeout-s", type=float, default=5.0, help="bound of each network call")
    parser.add_argument(
        "--window-min", type=float, default=5.0, help="the dead-letter rate's window (minutes)"
    )
    parser.add_argument(
        "--max-lag", type=int, default=100_000, help="records behind that count as unhealthy"
    )


def vault_password_file(inventory: Path, given: Path | None) -> Path | None:
    if given is not None:
        return given
    if os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE"):
        return Path(os.environ["ANSIBLE_VAULT_PASSWORD_FILE"])
    default = default_password_file(inventory.parent)
    return default if default.exists() else None


def run_command(args: argparse.Namespace) -> int:
    from lendstream.status.collect import Settings, collect  # noqa: PLC0415 - heavy imports

    inventory: Path = args.inventory
    if not inventory.is_file():
        print(f"status: no inventory at {inventory}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    password_file = vault_password_file(inventory, args.vault_password_file)
    if password_file is not None:  # ansible-inventory (the inventory's groups) reads it too
        os.environ["ANSIBLE_VAULT_PASSWORD_FILE"] = str(password_file)
    settings = Settings(
        inventory=inventory.resolve(),
        vault_password_file=password_file,
        timeout_s=args.timeout_s,
        window_s=args.window_min * 60,
        max_lag=args.max_lag,
    )
    try:
        report = collect(settings)
    except RuntimeError as error:  # the inventory cannot be read (ansible-inventory failed)
        print(f"status: {error}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    print(report.as_json() if args.json else report.as_text())
    return EXIT_HEALTHY if report.healthy else EXIT_UNHEALTHY
