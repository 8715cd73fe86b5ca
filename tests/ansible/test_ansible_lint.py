"""ansible-lint (production profile, strict) and syntax checks over the playbooks and roles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPOSITORY_ROOT / "ansible"
BIN_DIR = Path(sys.executable).parent
INVENTORIES = sorted((ANSIBLE_DIR / "inventories").glob("*/hosts.yml"))
PLAYBOOKS = [ANSIBLE_DIR / "site.yml", *sorted((ANSIBLE_DIR / "playbooks").glob("*.yml"))]
COMMAND_TIMEOUT_S = 300


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = dict(
        os.environ,
        PATH=f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
        NO_COLOR="1",
    )
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


def test_ansible_lint_production_profile_passes() -> None:
    result = _run(str(BIN_DIR / "ansible-lint"), "ansible/", cwd=REPOSITORY_ROOT)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


@pytest.mark.parametrize("inventory", INVENTORIES, ids=lambda path: path.parent.name)
@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda path: path.name)
def test_playbook_syntax(playbook: Path, inventory: Path) -> None:
    result = _run(
        str(BIN_DIR / "ansible-playbook"),
        "--syntax-check",
        "-i",
        str(inventory),
        str(playbook),
        cwd=ANSIBLE_DIR,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_installed_collections_match_the_pins() -> None:
    """requirements.yml is satisfied by what the pinned ansible package ships (offline install)."""
    pins = yaml.safe_load((ANSIBLE_DIR / "requirements.yml").read_text())["collections"]
    result = _run(
        str(BIN_DIR / "ansible-galaxy"), "collection", "list", "--format", "json", cwd=ANSIBLE_DIR
    )
    assert result.returncode == 0, result.stderr
    installed: dict[str, set[str]] = {}
    for collections in json.loads(result.stdout).values():
        for name, details in collections.items():
            installed.setdefault(name, set()).add(details["version"])
    for pin in pins:
        assert pin["version"] in installed.get(pin["name"], set()), (
            f"{pin['name']} {pin['version']} is not installed (found "
            f"{sorted(installed.get(pin['name'], set()))}); requirements.yml and the pinned "
            "ansible package disagree"
        )
