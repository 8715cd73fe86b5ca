"""python -m lendstream.vcluster up|down|status|install-host-deps [--layout NAME]."""

from __future__ import annotations

import argparse
import sys

from lendstream.cluster import ClusterDescriptionError, load_cluster
from lendstream.vcluster import lifecycle
from lendstream.vcluster.hostdeps import HostNotReadyError, install_host_packages
from lendstream.vcluster.paths import inventory_path

DEFAULT_LAYOUT = "ci"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lendstream.vcluster",
        description="Simulated cluster: one systemd-nspawn node per host of a cluster.yml layout.",
    )
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "inventory-path", "install-host-deps"],
        help="up/down are idempotent; down leaves nothing behind",
    )
    parser.add_argument("--layout", default=DEFAULT_LAYOUT, help="layout in cluster.yml")
    args = parser.parse_args(argv)
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
