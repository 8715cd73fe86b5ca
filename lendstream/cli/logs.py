"""`lendstream logs`: the command line of lendstream.logs."""

from __future__ import annotations

import argparse

NAME = "logs"
SUMMARY = "last lines of one daemon's log on a cluster node (journal or worker file)"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream import logs as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
