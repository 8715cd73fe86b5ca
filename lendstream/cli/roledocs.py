"""`lendstream roledocs`: the command line of lendstream.roledocs."""

from __future__ import annotations

import argparse

NAME = "roledocs"
SUMMARY = "generate the role READMEs' variable tables from meta/argument_specs.yml"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream import roledocs as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
