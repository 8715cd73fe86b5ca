"""python -m lendstream.vagrant box | accel | prepare | release | leftovers | smoke

box        build the local box if its recipe changed, and add it to Vagrant (make vagrant-box)
accel      kvm or tcg for this host (probed once, cached; --refresh probes again)
prepare    libvirtd + virtlogd, the layout's libvirt networks and apt proxy (Vagrantfile trigger)
release    stop the proxy and remove the networks once no machine of the layout is left
leftovers  what of the layout libvirt still holds (exit 1 if anything)
smoke      vagrant up, SSH, site.yml tags, vagrant destroy, measured (make vagrant-smoke)
"""

from __future__ import annotations

import argparse
import sys

from lendstream import cli
from lendstream.cluster import load_cluster
from lendstream.vagrant import accel, box, host, smoke


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream vagrant`'s arguments (lendstream.cli.vagrant)."""
    parser.add_argument(
        "command", choices=("box", "accel", "prepare", "release", "leftovers", "smoke")
    )
    parser.add_argument("--layout", default="ci")
    parser.add_argument("--refresh", action="store_true", help="accel: probe again")
    parser.add_argument("--keep", action="store_true", help="smoke: leave the machines up")


def main(argv: list[str] | None = None) -> int:
    return cli.run_subcommand("vagrant", argv)


def run_command(args: argparse.Namespace) -> int:
    if args.command == "box":
        box.install_box()
        return 0
    if args.command == "accel":
        chosen, why = accel.choose(refresh=args.refresh)
        print(f"{chosen} ({why})")
        return 0
    layout = load_cluster().layout(args.layout)
    if args.command == "prepare":
        host.prepare(layout)
    elif args.command == "release":
        host.release(layout)
    elif args.command == "leftovers":
        found = host.leftovers(layout)
        print("\n".join(found) if found else "nothing left")
        return 1 if found else 0
    else:
        return smoke.run(layout, keep=args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
