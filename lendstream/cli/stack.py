"""`lendstream stack`: the command line of lendstream.stack.__main__."""

from __future__ import annotations

import argparse

NAME = "stack"
SUMMARY = "start, stop and check the single-machine stack"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.stack import __main__ as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
