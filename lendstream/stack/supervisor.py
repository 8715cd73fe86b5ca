"""The stack's supervisord: render its configuration, start it, and drive it over XML-RPC."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from supervisor.xmlrpc import SupervisorTransport

from lendstream.stack.layout import StackLayout

TEMPLATE = Path(__file__).with_name("supervisord.conf.j2")
START_TIMEOUT_S = 20.0
SHUTDOWN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Program:
    name: str
    command: str
    directory: str
    stop_wait_s: int = 30
    environment: str = ""


def render_config(layout: StackLayout, programs: list[Program]) -> str:
    template = jinja2.Template(TEMPLATE.read_text(), undefined=jinja2.StrictUndefined)
    return template.render(
        socket=layout.supervisord_socket,
        pidfile=layout.supervisord_pidfile,
        logs=layout.logs,
        programs=programs,
    )


class Supervisor:
    """One supervisord per stack directory, reached through its unix socket."""

    def __init__(self, layout: StackLayout) -> None:
        self.layout = layout

    def _proxy(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.layout.supervisord_socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def is_running(self) -> bool:
        if not self.layout.supervisord_socket.exists():
            return False
        try:
            return self._proxy().supervisor.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Fault):
            return False

    def pid(self) -> int | None:
        try:
            return int(self.layout.supervisord_pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def start(self, programs: list[Program]) -> None:
        """Write the configuration and start supervisord, or apply changes to a running one."""
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        config = render_config(self.layout, programs)
        changed = (
            not self.layout.supervisord_conf.exists()
            or self.layout.supervisord_conf.read_text() != config
        )
        if changed:
            self.layout.supervisord_conf.write_text(config)
        if self.is_running():
            if changed:
                self._apply_changes()
            return
        subprocess.run(
            [
                sys.executable,
                "-m",
                "supervisor.supervisord",
                "-c",
                str(self.layout.supervisord_conf),
            ],
            check=True,
            cwd=self.layout.root,
            timeout=START_TIMEOUT_S,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.is_running():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"supervisord did not come up; see {self.layout.logs}/supervisord.log"
                )
            time.sleep(0.2)

    def _apply_changes(self) -> None:
        proxy = self._proxy()
        [[added, changed, removed]] = proxy.supervisor.reloadConfig()
        for name in changed + removed:
            proxy.supervisor.stopProcessGroup(name)
            proxy.supervisor.removeProcessGroup(name)
        for name in added + changed:
            proxy.supervisor.addProcessGroup(name)

    def info(self, program: str) -> dict[str, Any]:
        return self._proxy().supervisor.getProcessInfo(program)

    def all_info(self) -> list[dict[str, Any]]:
        return self._proxy().supervisor.getAllProcessInfo()

    def start_program(self, program: str) -> None:
        if self.info(program)["statename"] in ("RUNNING", "STARTING"):
            return
        try:
            self._proxy().supervisor.startProcess(program, False)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise

    def stop_program(self, program: str) -> None:
        if self.info(program)["statename"] not in ("RUNNING", "STARTING", "BACKOFF"):
            return
        try:
            self._proxy().supervisor.stopProcess(program, True)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise

    def shutdown(self) -> None:
        pid = self.pid()
        if self.is_running():
            self._proxy().supervisor.shutdown()
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT_S
        while pid is not None and pid_alive(pid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"supervisord (pid {pid}) did not exit")
            time.sleep(0.2)


def pid_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


def _parent_pids() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def process_family(pid: int) -> set[int]:
    """The process and all its descendants (e.g. a Storm supervisor's worker JVMs)."""
    parents = _parent_pids()
    family = {pid}
    grew = True
    while grew:
        children = {child for child, parent in parents.items() if parent in family}
        grew = not children <= family
        family |= children
    return family


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total = 0
    for member in process_family(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its live descendants."""
    ticks = 0
    for member in process_family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def processes_under(root: Path) -> list[int]:
    """Pids of live processes that run in the stack directory and name it on their command line."""
    marker = str(root).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes()
            working_dir = (entry / "cwd").resolve()
        except OSError:
            continue
        runs_here = working_dir == root or root in working_dir.parents
        if runs_here and marker in command_line and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found
