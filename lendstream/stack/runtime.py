"""Bring the single-machine stack up and down; the API tests and tools code against."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
import xmlrpc.client
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from lendstream import file_lock
from lendstream.stack.components import COMPONENTS, ORDER, Check, Component, with_dependencies
from lendstream.stack.health import Health
from lendstream.stack.layout import StackLayout
from lendstream.stack.mysql_admin import admin_credentials
from lendstream.stack.render import render
from lendstream.stack.supervisor import Program, Supervisor, pid_alive, processes_under

LOG_TAIL_LINES = 40
POLL_INTERVAL_S = 1.0
LOCK_TIMEOUT_S = 900.0
PORT_PROBE_TIMEOUT_S = 1.0
PROVISION_MIN_S = 60.0
LEFTOVER_KILL_TIMEOUT_S = 15.0


class StackError(RuntimeError):
    """A component did not become healthy; names it and carries its log tail."""

    def __init__(self, component: str, reason: str, log_tail: str) -> None:
        super().__init__(f"{component}: {reason}\n--- log tail ---\n{log_tail}")
        self.component = component
        self.reason = reason
        self.log_tail = log_tail


@dataclass(frozen=True)
class StackEndpoints:
    mysql_host: str
    mysql_port: int
    mysql_admin_user: str
    mysql_admin_password: str = field(repr=False)
    kafka_bootstrap: str
    zookeeper_connect: str
    hbase_thrift_host: str
    hbase_thrift_port: int
    storm_nimbus_host: str
    storm_nimbus_port: int
    storm_ui_url: str


def endpoints(layout: StackLayout | None = None) -> StackEndpoints:
    layout = layout or StackLayout.default()
    ports = layout.ports
    credentials = admin_credentials(layout)
    return StackEndpoints(
        mysql_host=layout.host,
        mysql_port=ports.mysql,
        mysql_admin_user=credentials.user,
        mysql_admin_password=credentials.password,
        kafka_bootstrap=f"{layout.host}:{ports.kafka}",
        zookeeper_connect=f"{layout.host}:{ports.zookeeper}",
        hbase_thrift_host=layout.host,
        hbase_thrift_port=ports.hbase_thrift,
        storm_nimbus_host=layout.host,
        storm_nimbus_port=ports.storm_nimbus,
        storm_ui_url=f"http://{layout.host}:{ports.storm_ui}",
    )


@contextmanager
def stack_lock(layout: StackLayout) -> Iterator[None]:
    """Serialise up/down across processes sharing this checkout (tests run in parallel)."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with layout.lock_file.open("w") as handle:
        if not file_lock.acquire(handle, LOCK_TIMEOUT_S, poll_s=0.5):
            raise TimeoutError(f"another process holds {layout.lock_file}")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def programs(layout: StackLayout) -> list[Program]:
    """Every component's programs, as supervisord runs them: the role-rendered launchers."""
    return [
        Program(
            name=program,
            command=str(layout.launcher(name, program)),
            directory=str(layout.component_dir(name)),
        )
        for name in ORDER
        if name in COMPONENTS
        for program in COMPONENTS[name].programs
    ]


def log_tail(layout: StackLayout, component: Component, lines: int = LOG_TAIL_LINES) -> str:
    tails = []
    for program in component.programs:
        path = layout.program_log(program)
        if path.exists():
            content = path.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"==> {path} <==\n" + "\n".join(content))
        else:
            tails.append(f"==> {path} <== (no log yet)")
    return "\n".join(tails)


def check(layout: StackLayout, component: Component) -> Health:
    try:
        return component.check(layout)
    except Exception as error:  # a failing probe means not healthy, whatever it raised
        return Health(False, f"{type(error).__name__}: {error}")


def _probe(layout: StackLayout, probe: Check) -> Health:
    try:
        return probe(layout)
    except Exception as error:  # a failing probe means not healthy, whatever it raised
        return Health(False, f"{type(error).__name__}: {error}")


def _start(layout: StackLayout, supervisor: Supervisor, component: Component) -> float:
    """Start the component's programs; return the deadline for its health.

    Refuses when one of its ports already answers while its programs are not running: another
    process (another checkout's stack, a test's daemon) holds it, and our health checks would
    talk to that process instead."""
    if not _programs_running(supervisor, component):
        busy = [
            port for port in layout.listening_ports(component.name) if _port_answers(layout, port)
        ]
        if busy:
            raise StackError(
                component.name,
                f"port(s) {busy} already in use by another process: {_listeners(busy)}",
                log_tail(layout, component),
            )
        try:
            component.prepare(layout)
        except Exception as error:  # named with its cause, like every start failure
            raise StackError(
                component.name,
                f"preparing failed: {type(error).__name__}: {error}",
                log_tail(layout, component),
            ) from error
    for program in component.programs:
        supervisor.start_program(program)
    return time.monotonic() + component.start_timeout_s


def _port_answers(layout: StackLayout, port: int) -> bool:
    try:
        with socket.create_connection((layout.host, port), timeout=PORT_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _listeners(ports: list[int]) -> str:
    """Who listens on these ports, as `ss` tells (for the error message only)."""
    result = subprocess.run(
        ["ss", "-Hltnp"], capture_output=True, text=True, timeout=10, check=False
    )
    wanted = tuple(f":{port} " for port in ports)
    lines = [
        line.split()[-1] for line in result.stdout.splitlines() if any(w in line for w in wanted)
    ]
    return "; ".join(lines) or "unknown"


def _programs_running(supervisor: Supervisor, component: Component) -> bool:
    try:
        return all(
            supervisor.info(program)["statename"] == "RUNNING" for program in component.programs
        )
    except xmlrpc.client.Fault:  # a program the running supervisord does not know yet
        return False


def _healthy(layout: StackLayout, supervisor: Supervisor, component: Component) -> bool:
    """Healthy and ours: its programs run under this stack's supervisord and it answers."""
    return _programs_running(supervisor, component) and check(layout, component).ok


def _wait(
    layout: StackLayout, supervisor: Supervisor, component: Component, deadline: float
) -> None:
    last = Health(False, "not checked yet")
    while time.monotonic() < deadline:
        for program in component.programs:
            state = supervisor.info(program)
            if state["statename"] in ("EXITED", "FATAL", "STOPPED"):
                raise StackError(
                    component.name,
                    f"{program} is {state['statename']} ({state['description']})",
                    log_tail(layout, component),
                )
        last = _probe(layout, component.ready)
        if last.ok:
            break
        time.sleep(POLL_INTERVAL_S)
    else:
        raise StackError(
            component.name,
            f"not ready after {component.start_timeout_s:.0f} s: {last.detail}",
            log_tail(layout, component),
        )
    _provision_until(layout, component, deadline)
    final = check(layout, component)
    if not final.ok:
        raise StackError(component.name, f"unhealthy: {final.detail}", log_tail(layout, component))


def _provision_until(layout: StackLayout, component: Component, deadline: float) -> None:
    """Provisioning right after start can time out (e.g. HBase still assigning regions): retry
    (it is idempotent) until the component's start deadline, then fail with the log tail."""
    deadline = max(deadline, time.monotonic() + PROVISION_MIN_S)
    while True:
        try:
            component.provision(layout)
            return
        except Exception as error:  # retried: any failure of an idempotent step
            if time.monotonic() > deadline:
                raise StackError(
                    component.name,
                    f"provisioning failed: {type(error).__name__}: {error}",
                    log_tail(layout, component),
                ) from error
            time.sleep(POLL_INTERVAL_S * 2)


def healthy_components(layout: StackLayout | None = None) -> set[str]:
    layout = layout or StackLayout.default()
    supervisor = Supervisor(layout)
    if not supervisor.is_running():
        return set()
    return {
        name for name, component in COMPONENTS.items() if _healthy(layout, supervisor, component)
    }


def start_waves(names: list[str]) -> list[list[str]]:
    """Group components so that each starts with everything it requires already healthy:
    the first wave needs nothing, the next needs only the first, and so on."""
    waves: list[list[str]] = []
    placed: set[str] = set()
    while len(placed) < len(names):
        wave = [
            name
            for name in names
            if name not in placed
            and all(r in placed or r not in names for r in COMPONENTS[name].requires)
        ]
        waves.append(wave)
        placed.update(wave)
    return waves


def ensure_up(
    *components: str,
    layout: StackLayout | None = None,
    on_healthy: Callable[[str, float], None] | None = None,
) -> StackEndpoints:
    """Start what is missing of these components (and what they need); wait until healthy.

    Components start in dependency waves (e.g. MariaDB, ZooKeeper and Kafka together, then HBase
    and Storm); `on_healthy(component, seconds)` is told as each one becomes healthy."""
    layout = layout or StackLayout.default()
    names = with_dependencies(list(components) or [n for n in ORDER if n in COMPONENTS])
    with stack_lock(layout):
        supervisor = Supervisor(layout)
        if supervisor.is_running() and all(
            _healthy(layout, supervisor, COMPONENTS[name]) for name in names
        ):
            return endpoints(layout)
        started = time.monotonic()
        render(layout, names)
        supervisor.start(programs(layout))
        for wave in start_waves(names):
            missing = [
                COMPONENTS[n] for n in wave if not _healthy(layout, supervisor, COMPONENTS[n])
            ]
            deadlines = {c.name: _start(layout, supervisor, c) for c in missing}
            for component in missing:
                _wait(layout, supervisor, component, deadlines[component.name])
                if on_healthy:
                    on_healthy(component.name, time.monotonic() - started)
    return endpoints(layout)


def status(layout: StackLayout | None = None) -> dict[str, Health]:
    layout = layout or StackLayout.default()
    supervisor = Supervisor(layout)
    if not supervisor.is_running():
        return {name: Health(False, "stack is down") for name in COMPONENTS}
    report = {}
    for name in ORDER:
        if name not in COMPONENTS:
            continue
        component = COMPONENTS[name]
        states = [supervisor.info(program) for program in component.programs]
        not_running = [s for s in states if s["statename"] != "RUNNING"]
        if not_running:
            described = ", ".join(f"{s['name']} {s['statename']}" for s in not_running)
            report[name] = Health(False, described)
        else:
            report[name] = check(layout, component)
    return report


def stop(*components: str, layout: StackLayout | None = None) -> None:
    """Stop these components' programs (reverse order); shut supervisord down if none is left."""
    layout = layout or StackLayout.default()
    with stack_lock(layout):
        supervisor = Supervisor(layout)
        if not supervisor.is_running():
            return
        for name in reversed(ORDER):
            if name in components and name in COMPONENTS:
                for program in reversed(COMPONENTS[name].programs):
                    supervisor.stop_program(program)
        if all(info["statename"] != "RUNNING" for info in supervisor.all_info()):
            _shutdown(layout, supervisor)


def down(layout: StackLayout | None = None) -> None:
    """Stop every component and supervisord; leave no process behind."""
    layout = layout or StackLayout.default()
    with stack_lock(layout):
        supervisor = Supervisor(layout)
        if supervisor.is_running():
            for name in reversed(ORDER):
                if name in COMPONENTS:
                    for program in reversed(COMPONENTS[name].programs):
                        supervisor.stop_program(program)
        _shutdown(layout, supervisor)


def _shutdown(layout: StackLayout, supervisor: Supervisor) -> None:
    supervisor.shutdown()
    _kill_leftovers(layout)


def _kill_leftovers(layout: StackLayout) -> None:
    """Processes of this stack that outlived their program (e.g. detached Storm workers)."""
    leftovers = processes_under(layout.root)
    for pid in leftovers:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + LEFTOVER_KILL_TIMEOUT_S
    while any(pid_alive(pid) for pid in leftovers) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in leftovers:
        if pid_alive(pid):
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)
