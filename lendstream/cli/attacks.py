"""`lendstream attacks`: the command line of lendstream.attacks.__main__."""

from __future__ import annotations

import argparse

NAME = "attacks"
SUMMARY = "the attack suite and a bridge capture on a deployed simulated cluster"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.attacks import __main__ as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
