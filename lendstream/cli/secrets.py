"""`lendstream secrets`: the command line of lendstream.secrets (it parses its own arguments)."""

from __future__ import annotations

import argparse

from lendstream.cli import pass_through

NAME = "secrets"
SUMMARY = "generate or rotate a deployment's secrets in Ansible Vault"
HAS_OWN_PARSER = True


def register(parser: argparse.ArgumentParser) -> None:
    from lendstream import secrets as owner  # noqa: PLC0415 - only the chosen subcommand's

    pass_through(parser, owner.main)
