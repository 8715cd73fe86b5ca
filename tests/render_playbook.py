"""Runs a test's render playbook (connection: local) against the ci inventory, with the project's
ansible.cfg and roles (the controller's Ansible environment and runner, lendstream.chaos.cluster):
the one way the template tests render what the roles would write."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lendstream.chaos.cluster import ANSIBLE_DIR, ansible_environment, run_ansible

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
CI_INVENTORY = ANSIBLE_DIR / "inventories" / "ci" / "hosts.yml"


def run_render_playbook(
    playbook: Path,
    extra_vars: dict[str, Any],
    *,
    timeout_s: float,
    limit: str | None = None,
    wrapper: Sequence[str] = (),
    inventory: str = str(CI_INVENTORY),
    succeed: bool = True,
) -> str:
    """``ansible-playbook`` of the venv on ``inventory`` (the ci inventory, or e.g. a list of
    loopback hosts ``"127.0.0.1,"``; ``wrapper`` before it, e.g. ``unshare --net``); fails the
    test with the output's tail when it fails (when it succeeds, if ``succeed`` is false).
    Returns its standard output."""
    bin_dir = Path(sys.executable).parent
    environment = ansible_environment(None, ANSIBLE_ROLES_PATH=str(ANSIBLE_DIR / "roles"))
    argv = [*wrapper, str(bin_dir / "ansible-playbook"), "-i", inventory]
    if limit:
        argv += ["--limit", limit]
    argv += ["-e", json.dumps(extra_vars), str(playbook)]
    result = run_ansible(argv, environment, timeout_s)
    assert (result.returncode == 0) == succeed, result.stdout[-5000:] + result.stderr[-2000:]
    return result.stdout
