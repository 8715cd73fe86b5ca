"""python -m lendstream.vcluster up|down|status|install-host-deps [--layout NAME]."""

from __future__ import annotations

import argparse
import sys

from lendstream import cli
from lendstream.cluster import ClusterDescriptionError, load_cluster
from lendstream.vcluster import lifecycle
from lendstream.vcluster.hostdeps import HostNotReadyError, install_host_packages
from lendstream.vcluster.paths import inventory_path

DEFAULT_LAYOUT = "ci"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream vcluster`'s arguments (lendstream.cli.vcluster)."""
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "inventory-path", "install-host-deps"],
        help="up/down are idempotent; down leaves nothing behind",
    )
    parser.add_argument("--layout", default=DEFAULT_LAYOUT, help="layout in cluster.yml")


def main(argv: list[str] | None = None) -> int:
    return cli.run_subcommand("vcluster", argv)


def run_command(args: argparse.Namespace) -> int:
    try:
        if args.command == "install-host-deps":
            install_host_packages()
            return 0
        layout = load_cluster().layout(args.layout)
        if args.command == "up":
            lifecycle.up(layout)
        elif args.command == "down":
            lifecycle.down(layout)
        elif args.command == "status":
            lifecycle.print_status(layout)
        else:
            print(inventory_path(layout.name))
    except (HostNotReadyError, ClusterDescriptionError, lifecycle.ClusterError) as error:
        print(f"vcluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
