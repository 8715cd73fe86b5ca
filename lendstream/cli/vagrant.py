"""`lendstream vagrant`: the command line of lendstream.vagrant.__main__."""

from __future__ import annotations

import argparse

NAME = "vagrant"
SUMMARY = "build the Vagrant box and run the libvirt smoke"


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream.vagrant import __main__ as owner  # noqa: PLC0415 - only the chosen subcommand's

    parser.description = owner.__doc__
    owner.add_arguments(parser)
    parser.set_defaults(run=owner.run_command)
