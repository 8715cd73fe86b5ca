"""`python -m lendstream.stack up [components…] | down | status | logs COMPONENT`."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from lendstream import cli
from lendstream.stack import runtime
from lendstream.stack.components import COMPONENTS
from lendstream.stack.layout import StackLayout
from lendstream.stack.supervisor import Supervisor, rss_bytes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream stack`'s arguments (lendstream.cli.stack)."""
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start components (default: all) and wait until healthy")
    # No `choices`: argparse rejects an empty list against them; ensure_up names unknown ones.
    up.add_argument("components", nargs="*", help=f"any of {', '.join(COMPONENTS)}")
    commands.add_parser("down", help="stop everything; leaves no process")
    commands.add_parser("status", help="each component's health; exit 1 if any is unhealthy")
    logs = commands.add_parser("logs", help="print (or follow) a component's log")
    logs.add_argument("component", choices=list(COMPONENTS))
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--lines", type=int, default=100)


def _up(components: list[str]) -> int:
    started = time.monotonic()
    try:
        endpoints = runtime.ensure_up(
            *components,
            on_healthy=lambda name, seconds: print(f"  {name:10} healthy at {seconds:5.1f} s"),
        )
    except runtime.StackError as error:
        print(f"FAILED: {error.component}: {error.reason}", file=sys.stderr)
        print(error.log_tail, file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"lendstream stack up: {error}", file=sys.stderr)
        return 2
    print(f"stack up in {time.monotonic() - started:.1f} s")
    for field, value in vars(endpoints).items():
        if "password" not in field:
            print(f"  {field:22} {value}")
    return 0


def _status() -> int:
    report = runtime.status()
    for name, health in report.items():
        print(f"{name:10} {'healthy  ' if health.ok else 'UNHEALTHY'} {health.detail}")
    supervisor = Supervisor(StackLayout.default())
    if supervisor.is_running():
        print("\nprocesses:")
        for info in supervisor.all_info():
            rss = f"{rss_bytes(info['pid']) / 2**20:6.0f} MiB" if info["pid"] else ""
            print(f"  {info['name']:20} {info['statename']:9} pid {info['pid']:<8} {rss}")
    return 0 if all(health.ok for health in report.values()) else 1


def _logs(component: str, follow: bool, lines: int) -> int:
    layout = StackLayout.default()
    paths = [str(layout.program_log(p)) for p in COMPONENTS[component].programs]
    command = ["tail", f"-n{lines}", *(["-F"] if follow else []), *paths]
    return subprocess.call(command)


def main(argv: list[str] | None = None) -> int:
    return cli.run_subcommand("stack", argv)


def run_command(arguments: argparse.Namespace) -> int:
    if arguments.command == "up":
        return _up(arguments.components)
    if arguments.command == "down":
        runtime.down()
        print("stack down")
        return 0
    if arguments.command == "status":
        return _status()
    return _logs(arguments.component, arguments.follow, arguments.lines)


if __name__ == "__main__":
    sys.exit(main())
