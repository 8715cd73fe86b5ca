"""`lendstream producer`: the command line of lendstream.services.producer.__main__."""

from __future__ import annotations

import argparse

NAME = "producer"
SUMMARY = "publish applicants from the applicant API to Kafka"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.services.producer import __main__ as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
