"""Measure the stack on a private directory and ports: cold `up` (first start, incl. KRaft format
and MariaDB initialisation), warm `up` (everything already healthy), and each daemon's RSS at idle.

`python -m lendstream.stack.measure [--idle-seconds 30]` — prints figures; leaves nothing running.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from lendstream.stack import runtime
from lendstream.stack.layout import StackLayout, StackPorts
from lendstream.stack.supervisor import Supervisor, cpu_seconds, rss_bytes

# Clear of the shared stack's ports, so both can run side by side, and below Linux's ephemeral
# port range (32768+), where an outgoing connection could already hold a port.
PRIVATE_PORTS = StackPorts().shifted(7000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lendstream.stack.measure")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    arguments = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="lendstream-stack-measure-"))
    layout = StackLayout(root=root, ports=PRIVATE_PORTS)
    try:
        started = time.monotonic()
        runtime.ensure_up(
            layout=layout,
            on_healthy=lambda name, seconds: print(f"  {name:10} healthy at {seconds:5.1f} s"),
        )
        cold = time.monotonic() - started
        started = time.monotonic()
        runtime.ensure_up(layout=layout)
        warm = time.monotonic() - started
        running = [i for i in Supervisor(layout).all_info() if i["statename"] == "RUNNING"]
        time.sleep(arguments.idle_seconds / 2)
        cpu_before = {i["name"]: cpu_seconds(i["pid"]) for i in running}
        time.sleep(arguments.idle_seconds / 2)
        window = arguments.idle_seconds / 2
        print(f"cold up: {cold:.1f} s   warm up: {warm:.2f} s")
        print(
            f"at idle ({arguments.idle_seconds:.0f} s after up): "
            f"RSS, and CPU over the last {window:.0f} s"
        )
        total_rss, total_cpu = 0, 0.0
        for info in running:
            rss = rss_bytes(info["pid"])
            cpu = (cpu_seconds(info["pid"]) - cpu_before[info["name"]]) / window
            total_rss, total_cpu = total_rss + rss, total_cpu + cpu
            print(f"  {info['name']:20} {rss / 2**20:6.0f} MiB {cpu:7.1%} of a core")
        print(f"  {'total':20} {total_rss / 2**20:6.0f} MiB {total_cpu:7.1%} of a core")
    except runtime.StackError as error:
        print(f"FAILED: {error.component}: {error.reason}; logs kept in {layout.logs}")
        runtime.down(layout=layout)
        return 1
    started = time.monotonic()
    runtime.down(layout=layout)
    print(f"down: {time.monotonic() - started:.1f} s")
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
