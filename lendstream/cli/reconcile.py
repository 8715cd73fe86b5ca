"""`lendstream reconcile`: the command line of lendstream.reconcile.cli."""

from __future__ import annotations

import argparse

NAME = "reconcile"
SUMMARY = "check every published applicant is stored once or dead-lettered"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.reconcile import cli as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
