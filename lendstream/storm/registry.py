"""Keeps a nimbus in Storm's registry of nimbuses: the check a systemd timer runs on every nimbus
node (the storm role's ``lendstream-storm-nimbus-registry.timer``).

Each nimbus keeps an ephemeral znode under ``/storm/nimbuses``; ``getLeader`` answers only with a
leader that has one, and supervisors, the UI and ``storm`` clients find the leader through it.
Storm writes it again when its ZooKeeper session reconnects, but a nimbus whose sessions expired
twice in a stall has been seen leading with no entry at all (STORM-1941, STORM-2513;
docs/faults.md, "a nimbus leader that no one can find"): every ``getLeader`` then fails, and the
supervisors exit every two minutes. Only a restart writes the entry again.

The check asks the local nimbus for the cluster summary (any nimbus answers it from ZooKeeper)
and looks for itself among the nimbuses listed. A nimbus that is missing, asked again after
``recheck_s`` (a reconnect deletes and writes the entry), and running for longer than
``grace_s`` (a starting nimbus registers within seconds), is restarted: interrupted, so that its
unit's ``Restart=on-failure`` starts it again. The check runs as the Storm user, as nimbus does,
and needs no privilege for that. A nimbus that does not answer is left to systemd::

    python -m lendstream.storm.registry --nimbus m1:6627
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from thriftpy2.thrift import TApplicationException

from lendstream.storm.nimbus import CONNECTION_ERRORS, NimbusAddress, NimbusSession, seed_of

DEFAULT_GRACE_S = 120.0
DEFAULT_RECHECK_S = 10.0
DEFAULT_TIMEOUT_MS = 10_000
# A nimbus that cannot read ZooKeeper fails the call (TApplicationException): not answered either.
UNANSWERED_ERRORS = (*CONNECTION_ERRORS, TApplicationException)


class Verdict(Enum):
    REGISTERED = "registered"
    STARTING = "starting"  # inactive, or active for less than the grace period
    UNANSWERED = "unanswered"  # left to systemd: a crashed nimbus restarts on its own
    RESTARTED = "restarted"


@dataclass(frozen=True)
class CheckResult:
    verdict: Verdict
    detail: str


def registered_nimbuses(address: NimbusAddress, timeout_ms: int) -> list[NimbusAddress]:
    """The nimbuses the registry lists, as the nimbus at ``address`` reads it."""
    with NimbusSession(address, timeout_ms) as session:
        cluster = session.client.getClusterInfo()
    return [NimbusAddress(str(n.host), int(n.port)) for n in cluster.nimbuses or ()]


def is_listed(address: NimbusAddress, listed: list[NimbusAddress]) -> bool:
    """Whether ``address`` is among ``listed``, by the name it registers under
    (storm.local.hostname) or its first label."""
    return any(seed_of(entry, {str(address): address}) is not None for entry in listed)


@dataclass(frozen=True)
class DaemonProcess:
    pid: int
    uptime_s: float


def daemon_process(daemon: str = "nimbus", proc: Path = Path("/proc")) -> DaemonProcess | None:
    """This user's Storm ``daemon`` JVM (``-Ddaemon.name=<daemon>`` on its command line, as the
    storm role's launcher starts it) and how long it has run; None when none runs."""
    marker = f"-Ddaemon.name={daemon}".encode()
    ticks = os.sysconf("SC_CLK_TCK")
    booted_s = float((proc / "uptime").read_text().split()[0])
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            if marker not in (entry / "cmdline").read_bytes().split(b"\0"):
                continue
            # Field 22 of stat, after the command name in parentheses: start time in ticks.
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # it ended meanwhile
            continue
        return DaemonProcess(int(entry.name), booted_s - int(fields[19]) / ticks)
    return None


def interrupt(pid: int) -> None:
    """SIGINT: the JVM runs Storm's shutdown hooks (nimbus closes its ZooKeeper session, which
    hands the leadership on at once) and exits 130, a failure to systemd, whose Restart=on-failure
    starts it again (143, after SIGTERM, is a success the unit does not restart)."""
    os.kill(pid, signal.SIGINT)


@dataclass
class RegistryCheck:
    """One run of the check; the reads and the restart are injectable for the unit tests."""

    address: NimbusAddress
    read_registry: Callable[[], list[NimbusAddress]]
    uptime_s: Callable[[], float | None]
    restart: Callable[[], None]
    grace_s: float = DEFAULT_GRACE_S
    recheck_s: float = DEFAULT_RECHECK_S
    sleep: Callable[[float], None] = time.sleep

    def _listed(self) -> tuple[bool | None, str]:
        try:
            listed = self.read_registry()
        except UNANSWERED_ERRORS as error:
            return None, f"nimbus {self.address} did not answer: {error or type(error).__name__}"
        names = ", ".join(str(entry) for entry in listed) or "none"
        return is_listed(self.address, listed), f"registry lists {names}"

    def run(self) -> CheckResult:
        uptime = self.uptime_s()
        if uptime is None or uptime < self.grace_s:
            state = "not running" if uptime is None else f"running for {uptime:.0f} s"
            return CheckResult(Verdict.STARTING, f"nimbus {state}: not checked")
        for attempt in ("", " (again after a reconnect)"):
            if attempt:
                self.sleep(self.recheck_s)
            listed, detail = self._listed()
            if listed is None:
                return CheckResult(Verdict.UNANSWERED, detail)
            if listed:
                return CheckResult(Verdict.REGISTERED, detail + attempt)
        self.restart()
        return CheckResult(
            Verdict.RESTARTED,
            f"{self.address} missing from /nimbuses twice, {self.recheck_s:.0f} s apart"
            f" ({detail}): interrupted it for systemd to restart",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lendstream.storm.registry",
        description="Restart the local nimbus when it is missing from Storm's nimbus registry.",
    )
    parser.add_argument("--nimbus", required=True, help="HOST:PORT it registers as")
    parser.add_argument("--grace-s", type=float, default=DEFAULT_GRACE_S)
    parser.add_argument("--recheck-s", type=float, default=DEFAULT_RECHECK_S)
    parser.add_argument("--timeout-ms", type=int, default=DEFAULT_TIMEOUT_MS)
    options = parser.parse_args(argv)
    address = NimbusAddress.parse(options.nimbus)
    process = daemon_process("nimbus")
    check = RegistryCheck(
        address=address,
        read_registry=lambda: registered_nimbuses(address, options.timeout_ms),
        uptime_s=lambda: None if process is None else process.uptime_s,
        restart=lambda: None if process is None else interrupt(process.pid),
        grace_s=options.grace_s,
        recheck_s=options.recheck_s,
    )
    result = check.run()
    # Only what needs a reader reaches the journal: the timer runs this every minute.
    if result.verdict is not Verdict.REGISTERED:
        print(f"{result.verdict.value}: {result.detail}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
