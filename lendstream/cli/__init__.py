"""`lendstream COMMAND …`: one command whose subcommands are the modules of this package.

Each module registers itself: `NAME`, a one-line `SUMMARY` (what `lendstream --help` lists) and
`register(parser)`, which puts the subcommand's arguments on its parser and sets `run(args) -> int`.
A new subcommand is a new module here; nothing else lists them. Only the chosen subcommand is
registered in full, so `lendstream --help` imports none of the heavy modules behind them.

The modules' own `python -m lendstream.X` entry points run through here too
(`run_subcommand`), so both spellings parse the same arguments.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

Main = Callable[[list[str]], int | None]


def subcommands() -> list[ModuleType]:
    """Every subcommand module of this package, by name."""
    modules = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    return sorted(modules, key=lambda module: module.NAME)


def parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The command's parser; `chosen` is the subcommand whose arguments are registered."""
    root = argparse.ArgumentParser(
        prog="lendstream",
        description="The lendstream pipeline, its stack and its cluster.",
        formatter_class=_OneLineEach,
    )
    commands = root.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in subcommands():
        own_parser = getattr(module, "HAS_OWN_PARSER", False)
        sub = commands.add_parser(
            module.NAME,
            help=module.SUMMARY,
            description=module.SUMMARY,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            # Every argument, --help included, is the module's own to parse.
            add_help=not own_parser,
            prefix_chars="\0" if own_parser else "-",
        )
        if chosen == module.NAME:
            module.register(sub)
    return root


class _OneLineEach(argparse.HelpFormatter):
    """Each subcommand and its summary on one line: the summaries start in column 18
    (argparse measures subcommand names two columns short of where it prints them)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=18, width=100)
        self._action_max_length = 16


def parse(argv: Sequence[str]) -> argparse.Namespace:
    return parser(argv[0] if argv else None).parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else list(argv))
    return int(args.run(args) or 0)


def run_subcommand(name: str, argv: Sequence[str] | None = None) -> int:
    """`python -m lendstream.X ARGS` = `lendstream NAME ARGS`."""
    return main([name, *(sys.argv[1:] if argv is None else argv)])


def pass_through(parser: argparse.ArgumentParser, module_main: Main) -> None:
    """For a module that still builds its own parser (`HAS_OWN_PARSER = True`): every
    argument goes to that module's `main`."""
    parser.add_argument("arguments", nargs="*")
    parser.set_defaults(run=lambda args: module_main(args.arguments))
