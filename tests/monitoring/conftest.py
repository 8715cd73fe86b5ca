"""The monitoring roles rendered once per session with the ci inventory (render-monitoring.yml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from local_processes import free_port
from monitoring_files import RenderedMonitoring

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPOSITORY_ROOT / "ansible"
CI_INVENTORY = ANSIBLE_DIR / "inventories" / "ci" / "hosts.yml"
RENDER_PLAYBOOK = Path(__file__).resolve().parent / "render-monitoring.yml"
RENDER_TIMEOUT_S = 300


@pytest.fixture(scope="session")
def rendered_monitoring(tmp_path_factory: pytest.TempPathFactory) -> RenderedMonitoring:
    root = tmp_path_factory.mktemp("monitoring")
    rendered = RenderedMonitoring(root, free_port(), free_port())
    bin_dir = Path(sys.executable).parent
    environment = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(ANSIBLE_DIR / "roles"),
        NO_COLOR="1",
    )
    extra_vars = {
        "render_dir": str(root),
        "alertmanager_test_port": rendered.alertmanager_port,
        "log_receiver_test_port": rendered.log_receiver_port,
    }
    result = subprocess.run(
        [
            str(bin_dir / "ansible-playbook"),
            "-i",
            str(CI_INVENTORY),
            "-e",
            json.dumps(extra_vars),
            str(RENDER_PLAYBOOK),
        ],
        cwd=ANSIBLE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RENDER_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return rendered
