"""Every lendstream unit running on a node is sandboxed as deployed: `systemd-analyze security`
scores it at most its ceiling (tests/unit_exposure.py), and its main process runs with no
capabilities, no new privileges and a system call filter."""

from __future__ import annotations

from typing import Any

from unit_exposure import ROLE_UNITS, ceiling, overall_exposure

testinfra_hosts = ["ansible://all"]


def _active_lendstream_units(host: Any) -> list[str]:
    listing = host.run(
        "systemctl list-units 'lendstream-*.service' --state=active --no-legend --plain"
    )
    assert listing.rc == 0, listing.stderr
    active = {line.split()[0].removesuffix(".service") for line in listing.stdout.splitlines()}
    # The roles' units only: the simulated nodes' own lendstream-ssh-host-keys is a oneshot.
    return [unit for unit in ROLE_UNITS if unit in active]


def test_every_active_lendstream_unit_is_within_its_exposure_ceiling(host: Any) -> None:
    units = _active_lendstream_units(host)
    scores: dict[str, float | None] = {}
    with host.sudo():
        for unit in units:
            report = host.run(f"systemd-analyze security --no-pager {unit}.service")
            scores[unit] = overall_exposure(report.stdout)
    print(f"\n{host.backend.get_hostname()}: {scores}")
    assert units, "no lendstream unit runs on this node"
    over = {unit: score for unit, score in scores.items() if score is None or score > ceiling(unit)}
    assert not over, f"above their exposure ceiling (None: no score): {over}"


def test_main_processes_run_without_privileges(host: Any) -> None:
    units = _active_lendstream_units(host)
    with host.sudo():
        for unit in units:
            pid = host.run(f"systemctl show --property=MainPID --value {unit}").stdout.strip()
            status = host.file(f"/proc/{pid}/status").content_string
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            assert fields["Uid"].split()[0] != "0", f"{unit} runs as root"
            assert fields["NoNewPrivs"].strip() == "1", unit
            assert fields["Seccomp"].strip() == "2", f"{unit} runs without seccomp"
            assert int(fields["CapEff"], 16) == 0, f"{unit} holds capabilities {fields['CapEff']}"
