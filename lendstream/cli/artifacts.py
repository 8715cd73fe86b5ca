"""`lendstream artifacts`: the command line of lendstream.stack.artifacts.__main__."""

from __future__ import annotations

import argparse

NAME = "artifacts"
SUMMARY = "build and verify the JVM service bundles"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.stack.artifacts import __main__ as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
