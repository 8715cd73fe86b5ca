"""``python -m lendstream.storm build|deploy|kill|status``: build the topology jar and submit it.

Locally (the single-machine stack's nimbus and settings) by default. A cluster from an Ansible
inventory (``--inventory PATH``), or explicitly, as the ``topology`` Ansible role calls it:
``--nimbus-seed NAME=HOST:PORT`` (repeated) and ``--set kafka_bootstrap_servers=… --set
risk_service_urls=… --set hbase_hosts=…``. See docs/topology.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from lendstream import cli
from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.stack.topology import deploy_local, local_nimbus, local_settings
from lendstream.storm.deployment import deploy_cluster, kill, leading_nimbus, running_topologies
from lendstream.storm.inventory import CLUSTER_TOKEN_FILE, ClusterTarget, cluster_target
from lendstream.storm.jar import TOPOLOGY_NAME, build_jar


def apply_overrides(settings: TopologyConf, overrides: list[str]) -> TopologyConf:
    """``["field=value", …]`` applied to ``settings`` (each value converted to the field's type)."""
    pairs = dict(item.split("=", 1) for item in overrides)
    return replace(
        settings, **{key: type(getattr(settings, key))(value) for key, value in pairs.items()}
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream topology`'s arguments (lendstream.cli.topology)."""
    parser.add_argument("action", choices=["build", "deploy", "kill", "status"])
    parser.add_argument("--name", default=TOPOLOGY_NAME, help="topology name on nimbus")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a topology setting, e.g. --set hbase_table=members_test",
    )
    parser.add_argument(
        "--inventory", type=Path, help="an Ansible inventory: deploy to that cluster"
    )
    parser.add_argument(
        "--nimbus-seed",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT",
        help="cluster without --inventory: a nimbus (its host name = the address to reach it)",
    )
    parser.add_argument(
        "--token-file",
        default=CLUSTER_TOKEN_FILE,
        help="cluster: the risk-service token file on the supervisors",
    )
    parser.add_argument(
        "--workers-venv",
        help="cluster: the Python venv on the supervisors (default: topology/config.json)",
    )
    parser.add_argument(
        "--skip-if-unchanged",
        action="store_true",
        help="leave a running topology with the same jar and settings alone (prints UNCHANGED)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="change nothing: print UNCHANGED or WOULD_DEPLOY (what deploy would do)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=int,
        help="drain before killing a running topology (default: its message timeout + 10 s)",
    )


def main(argv: list[str] | None = None) -> int:
    return cli.run_subcommand("topology", argv)


def run_command(args: argparse.Namespace) -> int:
    target = None
    if args.inventory is not None:
        target = cluster_target(args.inventory, args.token_file)
        target = replace(target, settings=apply_overrides(target.settings, args.set))
    elif args.nimbus_seed:
        seeds = dict(seed.split("=", 1) for seed in args.nimbus_seed)
        settings = TopologyConf(risk_service_token_file=args.token_file)
        target = ClusterTarget(seeds, [], apply_overrides(settings, args.set))
    if args.action == "build":
        print(build_jar())
        return 0
    nimbus = leading_nimbus(target) if target else local_nimbus()
    if args.action == "deploy":
        try:
            if target is not None:
                print(
                    deploy_cluster(
                        target,
                        args.name,
                        workers_venv=args.workers_venv,
                        drain_s=args.drain_seconds,
                        skip_if_unchanged=args.skip_if_unchanged,
                        dry_run=args.dry_run,
                    )
                )
            else:
                settings = apply_overrides(local_settings(), args.set)
                print(
                    deploy_local(
                        settings,
                        args.name,
                        drain_s=args.drain_seconds,
                        report=print,
                        skip_if_unchanged=args.skip_if_unchanged,
                        dry_run=args.dry_run,
                    )
                )
        except (FileNotFoundError, RuntimeError, TimeoutError) as error:  # nimbus unavailable too
            sys.exit(f"deploy failed: {error}")
    elif args.action == "kill":
        print("killed" if kill(nimbus, args.name) else f"{args.name} was not running")
    else:
        print(json.dumps(running_topologies(nimbus), indent=2))
    return 0
