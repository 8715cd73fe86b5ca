"""Every lendstream systemd unit the roles install is sandboxed: rendered with the roles' defaults
(render-units.yml, the ci inventory), each scores at most its ceiling on `systemd-analyze security
--offline` (tests/unit_exposure.py: 5.0, "OK", unless listed there with a reason), and each keeps
the settings the daemons were checked to start with (docs/security.md, "Hardened units")."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from render_playbook import run_render_playbook
from unit_exposure import ROLE_UNITS, ceiling, overall_exposure

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPOSITORY_ROOT / "ansible"
CI_INVENTORY = ANSIBLE_DIR / "inventories" / "ci" / "hosts.yml"
RENDER_PLAYBOOK = Path(__file__).resolve().parent / "render-units.yml"
RENDER_TIMEOUT_S = 300
ANALYZE_TIMEOUT_S = 60

# Settings every unit carries, as `systemd-analyze security` names them once they hold.
REQUIRED_SETTINGS = {
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "SystemCallArchitectures=native",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "UMask=0027",
    "CapabilityBoundingSet=",
}
# The NodeManager's containers run whatever application is submitted: no system call filter.
WITHOUT_SYSCALL_FILTER = {"lendstream-yarn-nodemanager"}
# Units of Python (and MariaDB) daemons; every other runs a JVM, whose JIT writes executable
# memory (so no MemoryDenyWriteExecute).
NATIVE_UNITS = {
    "lendstream-storm-ui",
    "lendstream-storm-nimbus-registry",
    "lendstream-mysql",
    "lendstream-applicant-api",
    "lendstream-risk-service",
    "lendstream-producer",
    "lendstream-pipeline-exporter",
    "lendstream-alert-log",
    "lendstream-certificate-check",
}
# Units with the whole file system read-only: they keep nothing (the pipeline exporter reads
# its counts again from Kafka at start).
WRITES_NOTHING = {
    "lendstream-storm-ui",
    "lendstream-storm-nimbus-registry",
    "lendstream-pipeline-exporter",
}
# The roles that install units, as render-units.yml renders them.
ROLES_WITH_UNITS = {
    *("zookeeper", "kafka", "hdfs", "yarn", "hbase", "storm", "mysql"),
    *("applicant_api", "risk_service", "producer", "pipeline_exporter", "alertmanager"),
    "node_exporter",
}
# Units that write the node exporter's textfile directory (its metrics files), nothing else.
TEXTFILE_WRITERS = {"lendstream-certificate-check"}
TEXTFILE_DIRECTORY = "/var/lib/prometheus/node-exporter"  # role node_exporter's default


@pytest.fixture(scope="module")
def rendered_units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("units")
    run_render_playbook(RENDER_PLAYBOOK, {"render_dir": str(root)}, timeout_s=RENDER_TIMEOUT_S)
    return root


def unit_settings(path: Path) -> dict[str, list[str]]:
    """Each setting of the unit file and its values, in order (comments and sections left out)."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def exposure(path: Path) -> float:
    """The unit file's overall exposure, as `systemd-analyze security --offline` scores it."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (Debian's systemd package)"
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(path)],
        capture_output=True,
        text=True,
        timeout=ANALYZE_TIMEOUT_S,
        check=False,
    )
    score = overall_exposure(result.stdout)
    assert score is not None, f"systemd-analyze security {path.name}: {result.stdout[-2000:]}"
    return score


def test_every_unit_template_is_rendered(rendered_units: Path) -> None:
    templates = sorted(ANSIBLE_DIR.glob("roles/*/templates/systemd/*.service.j2"))
    rendered = sorted(path.stem for path in rendered_units.glob("*.service"))
    assert rendered == sorted(ROLE_UNITS)
    roles = {path.parts[-4] for path in templates}
    assert roles == ROLES_WITH_UNITS, "a new unit template: add it to render-units.yml, ROLE_UNITS"


def test_exposure_of_every_unit_is_within_its_ceiling(rendered_units: Path) -> None:
    scores = {unit: exposure(rendered_units / f"{unit}.service") for unit in ROLE_UNITS}
    print("\nsystemd-analyze security --offline, exposure per unit (ceiling):")
    for unit, score in scores.items():
        print(f"  {unit:36} {score:4.1f} ({ceiling(unit)})")
    over = {unit: score for unit, score in scores.items() if score > ceiling(unit)}
    assert not over, f"units above their exposure ceiling: {over}"


@pytest.mark.parametrize("unit", ROLE_UNITS)
def test_unit_keeps_the_sandbox(rendered_units: Path, unit: str) -> None:
    settings = unit_settings(rendered_units / f"{unit}.service")
    present = {f"{key}={values[-1]}" for key, values in settings.items()}
    assert not REQUIRED_SETTINGS - present, f"{unit} lacks {sorted(REQUIRED_SETTINGS - present)}"
    if unit in WITHOUT_SYSCALL_FILTER:
        assert "SystemCallFilter" not in settings
    else:
        assert settings.get("SystemCallFilter") == ["@system-service"], unit
    if unit not in NATIVE_UNITS:
        assert "MemoryDenyWriteExecute" not in settings, f"{unit}: the JIT needs W+X memory"
    user = settings.get("User", settings.get("DynamicUser", [""]))[-1]
    assert user not in {"", "root", "0"}, f"{unit} runs as {user or 'root'}"


@pytest.mark.parametrize("unit", [unit for unit in ROLE_UNITS if unit != "lendstream-alert-log"])
def test_writable_paths_are_the_units_own(rendered_units: Path, unit: str) -> None:
    """ReadWritePaths only below the lendstream state and log roots (never /, /etc, /opt)."""
    settings = unit_settings(rendered_units / f"{unit}.service")
    paths = [path for value in settings.get("ReadWritePaths", []) for path in value.split()]
    allowed_roots = ("/var/lib/lendstream/", "/var/log/lendstream/", "/run/lendstream/")
    if unit in TEXTFILE_WRITERS:
        assert paths == [TEXTFILE_DIRECTORY], f"{unit}: {paths}"
        return
    assert all(path.startswith(allowed_roots) for path in paths), f"{unit}: {paths}"
    if unit not in WRITES_NOTHING:
        assert paths, f"{unit} writes nothing?"
