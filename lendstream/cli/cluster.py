"""`lendstream cluster`: the command line of lendstream.cluster."""

from __future__ import annotations

import argparse

NAME = "cluster"
SUMMARY = "write or check the inventories cluster.yml describes"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream import cluster as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
