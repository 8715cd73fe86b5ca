"""`lendstream artifacts`: the command line of lendstream.stack.artifacts
(it parses its own arguments)."""

from __future__ import annotations

import argparse

from lendstream.cli import pass_through

NAME = "artifacts"
SUMMARY = "build and verify the JVM service bundles"
HAS_OWN_PARSER = True


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.stack import artifacts as owner  # noqa: PLC0415 - only the chosen subcommand's

    pass_through(parser, owner.main)
