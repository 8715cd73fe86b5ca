"""`lendstream loader`: the command line of lendstream.services.applicant_api.loader."""

from __future__ import annotations

import argparse

NAME = "loader"
SUMMARY = "create the applicants schema and reader; load applicants into MySQL"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.services.applicant_api import loader as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
