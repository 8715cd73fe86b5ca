"""The storm role's worker relaunch script (`__storm_worker_relaunch_script`), run by `sh` against
real processes laid out as a supervisor lays them out: a worker JVM's pid file and its multilang
subprocesses' pid files side by side in the worker's `pids` directory. Stand-ins carry the
command-line arguments the script reads (the worker's main class, the ZooKeeper TLS switch)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROLE_VARS = (
    Path(__file__).resolve().parents[2] / "ansible" / "roles" / "storm" / "vars" / "main.yml"
)
WORKER_CLASS = "org.apache.storm.daemon.worker.Worker"
TLS_SWITCH = "-Dzookeeper.client.secure=true"


def relaunch_script(local_dir: Path) -> str:
    script = yaml.safe_load(ROLE_VARS.read_text())["__storm_worker_relaunch_script"]
    return script.replace("{{ storm_local_dir }}", str(local_dir))


class Workers:
    """Sleeping Python processes standing in for workers and subprocesses, each with a pid file."""

    def __init__(self, local_dir: Path) -> None:
        self.local_dir = local_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, worker_id: str, *arguments: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(120)", *arguments]
        )
        self.processes.append(process)
        pids = self.local_dir / "workers" / worker_id / "pids"
        pids.mkdir(parents=True, exist_ok=True)
        (pids / str(process.pid)).touch()
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path)
    yield started
    started.stop_all()


def run(local_dir: Path, want_tls: bool, timeout_s: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "sh",
            "-c",
            relaunch_script(local_dir),
            "storm-workers",
            str(want_tls).lower(),
            str(timeout_s),
        ],
        capture_output=True,
        text=True,
        timeout=timeout_s + 30,
        check=False,
    )


def test_workers_already_on_the_wanted_setting_and_their_subprocesses_are_left_alone(
    workers: Workers,
) -> None:
    jvm = workers.start("w1", TLS_SWITCH, WORKER_CLASS, "topology-1")
    bolt = workers.start("w1", "-m", "streamparse.run", "bolts.clean.CleanBolt")

    done = run(workers.local_dir, want_tls=True, timeout_s=5)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no worker to relaunch (1 running)"
    assert jvm.poll() is None
    assert bolt.poll() is None


def test_a_worker_on_the_other_setting_is_killed_and_waited_for_while_subprocesses_live(
    workers: Workers,
) -> None:
    old_jvm = workers.start("w1", WORKER_CLASS, "topology-1")
    bolt = workers.start("w1", "-m", "streamparse.run", "bolts.clean.CleanBolt")

    def supervisor_relaunches() -> None:
        deadline = time.monotonic() + 20
        while old_jvm.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if old_jvm.poll() is not None:
            workers.start("w2", TLS_SWITCH, WORKER_CLASS, "topology-1")

    supervisor = threading.Thread(target=supervisor_relaunches)
    supervisor.start()
    done = run(workers.local_dir, want_tls=True, timeout_s=20)
    supervisor.join(timeout=30)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"relaunched {old_jvm.pid} (1 running again)"
    assert old_jvm.poll() is not None
    assert bolt.poll() is None, "a multilang subprocess was killed as if it were a worker"


def test_a_worker_that_does_not_come_back_fails_within_the_bound(workers: Workers) -> None:
    old_jvm = workers.start("w1", TLS_SWITCH, WORKER_CLASS, "topology-1")

    started = time.monotonic()
    done = run(workers.local_dir, want_tls=False, timeout_s=3)

    assert done.returncode == 1
    assert done.stdout.strip() == f"relaunched {old_jvm.pid}: not all back after 3 s"
    assert time.monotonic() - started < 15
