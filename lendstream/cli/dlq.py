"""`lendstream dlq`: the command line of lendstream.dlq."""

from __future__ import annotations

import argparse

NAME = "dlq"
SUMMARY = "list, inspect and re-drive dead letters"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream import dlq as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
