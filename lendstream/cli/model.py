"""`lendstream model`: the command line of lendstream.model.__main__."""

from __future__ import annotations

import argparse

NAME = "model"
SUMMARY = "train and evaluate the risk model; synthetic applicants"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.model import __main__ as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
