"""`lendstream status`: the command line of lendstream.status.cli."""

from __future__ import annotations

import argparse

NAME = "status"
SUMMARY = "one screen of a deployed cluster's health; exit 1 when something is unhealthy"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.status import cli as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
