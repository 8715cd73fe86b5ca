"""Render the daemons' configurations with the roles' own templates (ansible/local-stack.yml)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lendstream.stack.layout import StackLayout

PLAYBOOK_TIMEOUT_S = 300.0


def kafka_cluster_id(layout: StackLayout) -> str:
    """The local KRaft cluster id: generated once, kept beside the Kafka data it formatted."""
    path = layout.component_dir("kafka") / "cluster-id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
    return path.read_text().strip()


def render_vars(layout: StackLayout, components: Iterable[str]) -> dict[str, Any]:
    """The extra vars local-stack.yml maps onto each role's variables."""
    components = list(components)
    ports = asdict(layout.ports)
    ports["storm_supervisor_slots"] = list(layout.ports.storm_supervisor_slots)
    extra: dict[str, Any] = {
        "local_stack_root": str(layout.root),
        "local_stack_components": sorted(set(components)),
        "local_stack_os_user": layout.os_user,
        "local_stack_host": layout.host,
        "local_stack_python_bin_dir": str(Path(sys.executable).parent),
        "local_stack_ports": ports,
    }
    if "kafka" in components:
        extra["local_stack_kafka_cluster_id"] = kafka_cluster_id(layout)
    extra.update(_bundle_vars(components))
    return extra


def _bundle_vars(components: Iterable[str]) -> dict[str, str]:
    jvm_components = [name for name in components if name != "mysql"]
    if not jvm_components:
        return {}
    from lendstream.stack.artifacts import bundle_path  # noqa: PLC0415 - only JVM parts need it

    return {f"local_stack_{name}_bundle": str(bundle_path(name)) for name in jvm_components}


def render(layout: StackLayout, components: Iterable[str]) -> None:
    """Run the local-stack playbook for these components; raises with its output on failure."""
    components = list(components)
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.render_vars.write_text(json.dumps(render_vars(layout, components), indent=2))
    playbook_bin = Path(sys.executable).parent / "ansible-playbook"
    environment = dict(os.environ, ANSIBLE_CONFIG=str(layout.ansible_dir / "ansible.cfg"))
    result = subprocess.run(
        [str(playbook_bin), "local-stack.yml", "-e", f"@{layout.render_vars}"],
        cwd=layout.ansible_dir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            "rendering the stack's configuration failed "
            f"(ansible-playbook local-stack.yml):\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
        )
