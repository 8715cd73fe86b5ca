"""The monitoring roles rendered once per session with the ci inventory (render-monitoring.yml)."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_processes import free_port
from monitoring_files import RenderedMonitoring
from render_playbook import run_render_playbook

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPOSITORY_ROOT / "ansible"
CI_INVENTORY = ANSIBLE_DIR / "inventories" / "ci" / "hosts.yml"
RENDER_PLAYBOOK = Path(__file__).resolve().parent / "render-monitoring.yml"
RENDER_TIMEOUT_S = 300


@pytest.fixture(scope="session")
def rendered_monitoring(tmp_path_factory: pytest.TempPathFactory) -> RenderedMonitoring:
    root = tmp_path_factory.mktemp("monitoring")
    rendered = RenderedMonitoring(root, free_port(), free_port())
    extra_vars = {
        "render_dir": str(root),
        "alertmanager_test_port": rendered.alertmanager_port,
        "log_receiver_test_port": rendered.log_receiver_port,
    }
    run_render_playbook(RENDER_PLAYBOOK, extra_vars, timeout_s=RENDER_TIMEOUT_S)
    return rendered
