"""`lendstream topology`: the command line of lendstream.storm.cli."""

from __future__ import annotations

import argparse

NAME = "topology"
SUMMARY = "build the Storm topology and submit, kill or list it"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.storm import cli as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
