"""`lendstream vcluster`: the command line of lendstream.vcluster.__main__."""

from __future__ import annotations

import argparse

NAME = "vcluster"
SUMMARY = "boot and tear down the simulated cluster"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.vcluster import __main__ as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
