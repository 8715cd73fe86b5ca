"""`lendstream chaos`: the command line of lendstream.chaos.__main__."""

from __future__ import annotations

import argparse

NAME = "chaos"
SUMMARY = "the fault suite under steady load on a simulated cluster"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.chaos import __main__ as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
