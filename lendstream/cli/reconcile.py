"""`lendstream reconcile`: the command line of lendstream.reconcile.cli
(it parses its own arguments)."""

from __future__ import annotations

import argparse

from lendstream.cli import pass_through

NAME = "reconcile"
SUMMARY = "check every published applicant is stored once or dead-lettered"
HAS_OWN_PARSER = True


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.reconcile import cli as owner  # noqa: PLC0415 - only the chosen subcommand's

    pass_through(parser, owner.main)
