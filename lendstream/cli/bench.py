"""`lendstream bench`: the command line of lendstream.bench, or with ``--layout`` of
lendstream.bench_cluster (each parses its own arguments)."""

from __future__ import annotations

import argparse

from lendstream.cli import pass_through

NAME = "bench"
SUMMARY = "benchmark the loop against the topology; --layout: on a cluster"
HAS_OWN_PARSER = True


def run(arguments: list[str]) -> None:
    if any(a == "--layout" or a.startswith("--layout=") for a in arguments):
        from lendstream import bench_cluster as owner  # noqa: PLC0415 - only the chosen one's
    else:
        from lendstream import bench as owner  # type: ignore[no-redef]  # noqa: PLC0415
    owner.main(arguments)


def register(parser: argparse.ArgumentParser) -> None:
    pass_through(parser, run)
