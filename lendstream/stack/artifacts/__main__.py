"""``lendstream artifacts build [--component X] [--force] | verify [--component X] | list``
(= ``python -m lendstream.stack.artifacts``): build missing or outdated bundles, check them
against their manifests, or print where they are as JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time

from lendstream import cli
from lendstream.stack.artifacts.bundles import (
    build,
    bundle_dir_name,
    bundle_info,
    bundle_size_bytes,
    cache_root,
)
from lendstream.stack.artifacts.catalogue import BUNDLES
from lendstream.stack.artifacts.errors import BundleError
from lendstream.stack.artifacts.files import verify


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream artifacts`'s arguments (lendstream.cli.artifacts)."""
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser("build", help="build missing or outdated bundles")
    build_command.add_argument("--component", choices=list(BUNDLES))
    build_command.add_argument("--force", action="store_true", help="rebuild even if up to date")
    verify_command = commands.add_parser("verify", help="check bundles against their manifests")
    verify_command.add_argument("--component", choices=list(BUNDLES))
    commands.add_parser("list", help="print the bundles' paths as JSON")


def _selected(component: str | None) -> list[str]:
    return [component] if component else list(BUNDLES)


def _build(component: str | None, force: bool) -> int:
    for name in _selected(component):
        started = time.monotonic()
        bundle = build(name, force=force)
        size_mib = bundle_size_bytes(bundle) / (1 << 20)
        elapsed = time.monotonic() - started
        print(f"{name}: {bundle} ({size_mib:.0f} MiB, {elapsed:.1f} s)", flush=True)
    return 0


def _verify(component: str | None) -> int:
    failed = False
    for name in _selected(component):
        bundle = cache_root() / bundle_dir_name(name)
        try:
            verify(bundle)
            print(f"{name}: ok {bundle}")
        except BundleError as error:
            failed = True
            print(f"{name}: FAILED {error}")
    return 1 if failed else 0


def run_command(args: argparse.Namespace) -> int:
    try:
        if args.command == "build":
            return _build(args.component, args.force)
        if args.command == "verify":
            return _verify(args.component)
        print(json.dumps({name: bundle_info(name) for name in BUNDLES}, indent=2))
        return 0
    except BundleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    return cli.run_subcommand("artifacts", argv)


if __name__ == "__main__":
    sys.exit(main())
