"""python -m lendstream.attacks --layout ci [--no-capture]

The attack suite against a deployed simulated cluster (make vcluster-deploy LAYOUT=…), as root:
every attack from a probe namespace on the layout's bridge (in no inventory) and from a cluster
member, then a packet capture on the bridge while a small load of applicants flows. Prints the
attack table (attack, from, target, expected, observed, verdict) and, per port, whether
applicant values crossed the bridge in clear text; .cache/attacks/<layout>/results.json has every
row with its detail. Exit 0 when every enforced attack failed and no TLS port carried clear-text
applicant data, 1 otherwise, 2 when the suite could not run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lendstream import cli
from lendstream.attacks.runner import results_path, run_suite
from lendstream.chaos.cluster import ChaosCluster, ChaosError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream attacks`'s arguments (lendstream.cli.attacks)."""
    parser.add_argument("--layout", default="ci", help="a deployed simulated layout")
    parser.add_argument("--no-capture", action="store_true", help="the attacks only")
    parser.add_argument(
        "--vault-password-file",
        type=Path,
        help="the layout's Vault password file (default: the one make secrets wrote)",
    )


def main(argv: list[str] | None = None) -> int:
    return cli.run_subcommand("attacks", argv)


def run_command(args: argparse.Namespace) -> int:
    try:
        cluster = ChaosCluster.open(args.layout, args.vault_password_file)
        report = run_suite(cluster, with_capture=not args.no_capture)
    except (ChaosError, RuntimeError, OSError) as error:
        print(f"attacks: {error}", file=sys.stderr)
        return 2
    report.write(results_path(args.layout))
    print(report.text())
    print(f"results: {results_path(args.layout)}")
    bad = [finding.attack.name for finding in report.failed_attacks]
    if bad:
        print(f"attacks that did not fail as they must: {bad}")
    if report.clear_text_on_tls_ports:
        print(f"clear-text applicant data on TLS or sealed ports: {report.clear_text_on_tls_ports}")
    return 1 if bad or report.clear_text_on_tls_ports else 0


if __name__ == "__main__":
    sys.exit(main())
