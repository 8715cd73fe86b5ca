"""Render the daemons' configurations with the roles' own templates (ansible/local-stack.yml)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lendstream.secrets import new_kafka_cluster_id
from lendstream.stack.artifacts import bundle_path
from lendstream.stack.components import COMPONENTS
from lendstream.stack.layout import StackLayout
from lendstream.stack.services import ensure_secrets, model_dir

PLAYBOOK_TIMEOUT_S = 300.0


def kafka_cluster_id(layout: StackLayout) -> str:
    """The local KRaft cluster id: generated once, kept beside the Kafka data it formatted."""
    path = layout.component_dir("kafka") / "cluster-id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_kafka_cluster_id())
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
    if "risk-service" in components:
        extra["local_stack_model_dir"] = str(model_dir(layout))
    ensure_secrets(layout)
    extra.update(_bundle_vars(components))
    return extra


def _bundle_vars(components: Iterable[str]) -> dict[str, str]:
    return {
        f"local_stack_{name}_bundle": str(bundle_path(name))
        for name in components
        if COMPONENTS[name].bundled
    }


def fingerprint(layout: StackLayout, component: str, extra: dict[str, Any]) -> str:
    """What a component's rendered files depend on: its variables, its role, the playbook."""
    digest = hashlib.sha256()
    own_vars = {
        key: value
        for key, value in extra.items()
        if key != "local_stack_components"
        and not (key.endswith("_bundle") and key != f"local_stack_{component}_bundle")
    }
    digest.update(json.dumps(own_vars, sort_keys=True).encode())
    role_dir = layout.ansible_dir / "roles" / COMPONENTS[component].role_name
    for path in sorted([*role_dir.rglob("*"), layout.ansible_dir / "local-stack.yml"]):
        if path.is_file():
            digest.update(str(path.relative_to(layout.ansible_dir)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _fingerprint_file(layout: StackLayout, component: str) -> Path:
    return layout.component_dir(component) / ".rendered"


def render(layout: StackLayout, components: Iterable[str]) -> None:
    """Render these components' files with the local-stack playbook, unless they are current."""
    layout.root.mkdir(parents=True, exist_ok=True)
    extra = render_vars(layout, components)
    wanted = {name: fingerprint(layout, name, extra) for name in components}
    stale = [
        name
        for name, value in wanted.items()
        if not _fingerprint_file(layout, name).exists()
        or _fingerprint_file(layout, name).read_text() != value
    ]
    if not stale:
        return
    extra["local_stack_components"] = stale
    run_render_playbook(layout, extra)
    for name in stale:
        _fingerprint_file(layout, name).write_text(wanted[name])


def run_render_playbook(layout: StackLayout, extra: dict[str, Any]) -> None:
    """Run local-stack.yml with ``extra`` (``render_vars`` plus any override), always."""
    layout.render_vars.parent.mkdir(parents=True, exist_ok=True)
    layout.render_vars.write_text(json.dumps(extra, indent=2))
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
