"""The Vagrant smoke (make vagrant-smoke): `vagrant up` of a layout on libvirt, measured.

1. the local box (built and added if its recipe changed);
2. `vagrant up` with the box, offline, each machine at most SMOKE_MEMORY_MIB and SMOKE_CPUS,
   the layout moved to SMOKE_NETWORK (so that it never collides with the simulated cluster of
   the same layout), and site.yml limited to SMOKE_TAGS; every output line is timestamped, which
   gives each machine's boot time and each play's time;
3. SSH into every machine (`vagrant ssh -c`): its cluster address, the cluster's names in
   /etc/hosts (common) and the bundles under /opt/lendstream (artifacts);
4. `vagrant destroy -f`, then nothing of the layout is left in libvirt (no domain, volume,
   network, proxy; the box's image volume is removed too, the box itself stays in Vagrant).
Figures go to .cache/vagrant/smoke-<layout>/figures.json and the end of the output.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from lendstream.cluster import REPO_ROOT, Layout
from lendstream.secrets import default_password_file, new_secrets
from lendstream.vagrant import accel, box, host

SMOKE_NETWORK = os.environ.get("LENDSTREAM_VAGRANT_NETWORK", "192.168.62.0/24")
SMOKE_MEMORY_MIB = int(os.environ.get("LENDSTREAM_VAGRANT_MEMORY_MIB", "1536"))
SMOKE_CPUS = int(os.environ.get("LENDSTREAM_VAGRANT_CPUS", "1"))
SMOKE_TAGS = os.environ.get("LENDSTREAM_VAGRANT_TAGS", "common,artifacts")
UP_TIMEOUT_S = 3 * 3600
DESTROY_TIMEOUT_S = 600
MACHINE_LINE = re.compile(r"^==> (\S+): (.*)$")
PLAY_LINE = re.compile(r"^PLAY \[(.*)\] \*+")
RECAP_LINE = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


@dataclass
class Figures:
    layout: str
    accel: str
    memory_mib: int
    cpus: int
    tags: str
    box_s: float = 0.0
    # 'Starting domain' to 'Machine booted and ready!' (SSH answers with the generated key).
    boot_s: dict[str, float] = field(default_factory=dict)
    # A machine's whole `up`: box volume, domain, boot, hostname, networks, shell provisioner.
    machine_up_s: dict[str, float] = field(default_factory=dict)
    provision_s: float = 0.0
    plays_s: dict[str, float] = field(default_factory=dict)
    recap: dict[str, dict[str, int]] = field(default_factory=dict)
    ssh_s: dict[str, float] = field(default_factory=dict)
    up_s: float = 0.0
    destroy_s: float = 0.0
    leftovers: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def state_dir(layout: Layout) -> Path:
    return REPO_ROOT / ".cache" / "vagrant" / f"smoke-{layout.name}"


def environment(layout: Layout) -> dict[str, str]:
    state = state_dir(layout)
    return {
        **os.environ,
        "PATH": f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        "LENDSTREAM_LAYOUT": layout.name,
        "LENDSTREAM_VAGRANT_BOX": box.BOX_NAME,
        "LENDSTREAM_VAGRANT_NETWORK": SMOKE_NETWORK,
        "LENDSTREAM_VAGRANT_MEMORY_MIB": str(SMOKE_MEMORY_MIB),
        "LENDSTREAM_VAGRANT_CPUS": str(SMOKE_CPUS),
        "LENDSTREAM_VAGRANT_TAGS": SMOKE_TAGS,
        "LENDSTREAM_VAGRANT_VAULT_DIR": str(state / f"vagrant-{layout.name}"),
        # This run's machines, apart from a `vagrant up` someone runs in the checkout.
        "VAGRANT_DOTFILE_PATH": str(state / "dotvagrant"),
        "VAGRANT_NO_COLOR": "1",
        "ANSIBLE_NOCOLOR": "1",
    }


def _vagrant(
    args: list[str], env: dict[str, str], log: Path, timeout_s: float
) -> list[tuple[float, str]]:
    """Run vagrant, echo and log each line with its time since start; return (seconds, line).

    The deadline holds even when vagrant prints nothing (a hung boot or SSH): a timer kills
    vagrant's whole process group (its ansible-playbook and ssh children included)."""
    started = time.monotonic()
    lines: list[tuple[float, str]] = []
    with log.open("a") as out:
        out.write(f"$ vagrant {' '.join(args)}\n")
        process = subprocess.Popen(
            ["vagrant", *args, "--no-color"] if args[0] != "ssh" else ["vagrant", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            assert process.stdout is not None
            for raw in process.stdout:
                seconds = time.monotonic() - started
                line = raw.rstrip("\n")
                if "Progress:" in line:  # the box upload's progress bar, one line per update
                    continue
                lines.append((seconds, line))
                out.write(f"{seconds:8.1f} {line}\n")
                out.flush()
                print(f"{seconds:8.1f} {line}", flush=True)
            code = process.wait(timeout=60)
        finally:
            timer.cancel()
    if timed_out.is_set():
        raise TimeoutError(f"vagrant {args[0]} ran over {timeout_s:.0f} s; see {log}")
    if code != 0:
        raise RuntimeError(f"vagrant {' '.join(args)} failed ({code}); see {log}")
    return lines


def parse_up(lines: list[tuple[float, str]], figures: Figures) -> None:
    """Boot time and whole `up` time per machine, the provisioning time, each play's time and
    the recap."""
    first_seen: dict[str, float] = {}
    starting: dict[str, float] = {}
    ansible_started = None
    play_name, play_started = None, 0.0
    for seconds, line in lines:
        match = MACHINE_LINE.match(line)
        if match:
            name, text = match.groups()
            first_seen.setdefault(name, seconds)
            if ansible_started is None:
                figures.machine_up_s[name] = round(seconds - first_seen[name], 1)
            if text.startswith("Starting domain"):
                starting[name] = seconds
            if "Machine booted and ready" in text and name in starting:
                figures.boot_s[name] = round(seconds - starting[name], 1)
            if text.startswith("Running provisioner: ansible"):
                ansible_started = seconds
        play = PLAY_LINE.match(line)
        if play or line.startswith("PLAY RECAP"):
            if play_name is not None:
                figures.plays_s[play_name] = round(seconds - play_started, 1)
            play_name, play_started = (play.group(1) if play else None), seconds
        recap = RECAP_LINE.match(line)
        if recap:
            ok, changed, unreachable, failed = (int(g) for g in recap.groups()[1:])
            figures.recap[recap.group(1)] = {
                "ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed,
            }  # fmt: skip
    if ansible_started is not None and lines:
        figures.provision_s = round(lines[-1][0] - ansible_started, 1)


def check_machines(layout: Layout, env: dict[str, str], log: Path, figures: Figures) -> None:
    """SSH into each machine: its cluster address, /etc/hosts (common), bundles (artifacts)."""
    names = [node.name for node in layout.nodes]
    for node in layout.nodes:
        address = str(host.node_address(layout, node.name))
        command = (
            f"ip -4 -o addr show | grep -q ' {address}/' && echo address-ok; "
            + "; ".join(f"getent hosts {n} | grep -q . && echo hosts-{n}" for n in names)
            + "; ls /opt/lendstream"
        )
        started = time.monotonic()
        output = "\n".join(
            line for _, line in _vagrant(["ssh", node.name, "-c", command], env, log, 300)
        )
        figures.ssh_s[node.name] = round(time.monotonic() - started, 1)
        if "address-ok" not in output:
            figures.problems.append(f"{node.name}: {address} not configured")
        missing = [n for n in names if f"hosts-{n}" not in output]
        if missing:
            figures.problems.append(f"{node.name}: /etc/hosts lacks {missing}")
        if "artifacts" in SMOKE_TAGS and not re.search(
            r"^(hadoop|zookeeper|kafka|hbase|apache-storm)", output, re.M
        ):
            figures.problems.append(f"{node.name}: no bundle under /opt/lendstream")


def run(layout: Layout, keep: bool = False) -> int:
    state = state_dir(layout)
    state.mkdir(parents=True, exist_ok=True)
    log = state / "vagrant.log"
    log.write_text("")
    env = environment(layout)
    os.environ.update({k: v for k, v in env.items() if k.startswith("LENDSTREAM_VAGRANT_")})
    host.ensure_libvirtd()
    taken = host.domains(layout)
    if taken:
        raise RuntimeError(
            f"machines of layout {layout.name} exist already ({', '.join(taken)}): someone's "
            "vagrant up; destroy them first"
        )
    started = time.monotonic()
    box.install_box()
    box_s = round(time.monotonic() - started, 1)
    # After the box: on a fresh host the probe needs the box's kernel (without it, choose()
    # answers kvm unprobed, while the Vagrantfile, which asks after the box is built, gets tcg).
    figures = Figures(
        layout=layout.name, accel=accel.choose()[0], memory_mib=SMOKE_MEMORY_MIB,
        cpus=SMOKE_CPUS, tags=SMOKE_TAGS, box_s=box_s,
    )  # fmt: skip
    vault_dir = Path(env["LENDSTREAM_VAGRANT_VAULT_DIR"])
    new_secrets(vault_dir, default_password_file(vault_dir))
    try:
        started = time.monotonic()
        lines = _vagrant(["up"], env, log, UP_TIMEOUT_S)
        figures.up_s = round(time.monotonic() - started, 1)
        parse_up(lines, figures)
        for name, counts in figures.recap.items():
            if counts["failed"] or counts["unreachable"]:
                figures.problems.append(f"ansible on {name}: {counts}")
        missing = {n.name for n in layout.nodes} - set(figures.recap)
        if missing:
            figures.problems.append(f"ansible did not run on {sorted(missing)}")
        check_machines(layout, env, log, figures)
    finally:
        if not keep:
            started = time.monotonic()
            _vagrant(["destroy", "-f"], env, log, DESTROY_TIMEOUT_S)
            host.release(layout, remove_box_volume=True)
            figures.destroy_s = round(time.monotonic() - started, 1)
            figures.leftovers = host.leftovers(layout)
            if figures.leftovers:
                figures.problems.append(f"left behind: {figures.leftovers}")
        (state / "figures.json").write_text(json.dumps(figures.__dict__, indent=2) + "\n")
        print(json.dumps(figures.__dict__, indent=2), flush=True)
    if figures.problems:
        print("SMOKE FAILED:\n  " + "\n  ".join(figures.problems), flush=True)
        return 1
    print(f"smoke passed: figures in {state / 'figures.json'}", flush=True)
    return 0
