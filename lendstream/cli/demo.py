"""`lendstream demo`: the command line of lendstream.demo."""

from __future__ import annotations

import argparse

NAME = "demo"
SUMMARY = "run the pipeline end to end on the local stack"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream import demo as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
