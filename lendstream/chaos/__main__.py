"""python -m lendstream.chaos --layout ci [--fault NAME …] [--rate PER_S]

Runs the fault suite against a deployed simulated cluster (make vcluster-deploy LAYOUT=…), prints
one row per fault and writes .cache/chaos/<layout>/results.json. Exit 0 when every fault left
nothing lost and nothing extra, 1 when one did not, 2 when the suite could not run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lendstream import cli
from lendstream.chaos import faults
from lendstream.chaos.cluster import ChaosCluster, ChaosError
from lendstream.chaos.runner import DEFAULT_RATE_PER_S, results_path, run_faults


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream chaos`'s arguments (lendstream.cli.chaos)."""
    parser.add_argument("--layout", default="ci", help="a deployed simulated layout")
    parser.add_argument(
        "--fault",
        action="append",
        dest="faults",
        choices=[fault.name for fault in faults.CATALOGUE],
        help="run only these faults, in this order (repeatable; default: all)",
    )
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE_PER_S, help="applicants/s")
    parser.add_argument(
        "--vault-password-file",
        type=Path,
        help="the layout's Vault password file (default: the one make secrets wrote)",
    )


def main(argv: list[str] | None = None) -> int:
    return cli.run_subcommand("chaos", argv)


def run_command(args: argparse.Namespace) -> int:
    try:
        cluster = ChaosCluster.open(args.layout, args.vault_password_file)
        run = run_faults(cluster, faults.by_name(args.faults), args.rate)
    except ChaosError as error:
        print(f"chaos: {error}", file=sys.stderr)
        return 2
    run.write(results_path(args.layout))
    print(run.table())
    print(f"results: {results_path(args.layout)}")
    return 0 if run.passed else 1


if __name__ == "__main__":
    sys.exit(main())
