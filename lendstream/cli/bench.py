"""`lendstream bench`: the command line of lendstream.bench (it parses its own arguments)."""

from __future__ import annotations

import argparse

from lendstream.cli import pass_through

NAME = "bench"
SUMMARY = "benchmark the plain loop against the topology"
HAS_OWN_PARSER = True


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream import bench as owner  # noqa: PLC0415 - only the chosen subcommand's

    pass_through(parser, owner.main)
