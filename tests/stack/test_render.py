"""The local stack's configuration comes from the roles' templates, and rendering is idempotent."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lendstream.stack.components import ORDER
from lendstream.stack.layout import StackLayout
from lendstream.stack.render import render_vars

pytestmark = pytest.mark.stack

PLAYBOOK_TIMEOUT_S = 300.0


def _play(layout: StackLayout, vars_file: Path) -> str:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "local-stack.yml",
            "-e",
            f"@{vars_file}",
        ],
        cwd=layout.ansible_dir,
        env=dict(os.environ, ANSIBLE_CONFIG=str(layout.ansible_dir / "ansible.cfg")),
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result.stdout


def _changed(output: str) -> int:
    return int(re.search(r"localhost\s*:.*changed=(\d+)", output).group(1))  # type: ignore[union-attr]


def test_rendering_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    layout = StackLayout(root=tmp_path / "stack")
    layout.root.mkdir()
    vars_file = tmp_path / "render-vars.json"
    vars_file.write_text(json.dumps(render_vars(layout, list(ORDER))))
    assert _changed(_play(layout, vars_file)) > 0
    assert _changed(_play(layout, vars_file)) == 0
    storm_yaml = (layout.root / "storm/home/conf/storm.yaml").read_text()
    assert storm_yaml.startswith("#\n# Ansible managed")
    assert (layout.root / "storm/home/lib-worker").is_symlink()
    server_properties = (layout.root / "kafka/conf/server.properties").read_text()
    assert "process.roles=broker,controller" in server_properties
    assert "controller.quorum.voters=1@127.0.0.1:9093" in server_properties
