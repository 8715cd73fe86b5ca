"""What the cluster plays give Kafka's clients, rendered for a ci host by the roles themselves
(tests/ansible/render-kafka-security.yml): the kafka play's security variables, the producer's
environment and password file, the pipeline exporter's environment, the topology's submission
settings and password file, the operators' client settings. Each play's role variables are read
from its playbook (site.yml, playbooks/pipeline.yml, playbooks/deploy-topology.yml), so the render
follows them; only directories move under the test's and, for a private broker, its address and
CA. Shared by tests/ansible/test_kafka_security_wiring.py and tests/services/test_kafka_security.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from render_playbook import run_render_playbook

from lendstream.chaos.cluster import ANSIBLE_DIR
from lendstream.kafka_client import read_env_file

TOPOLOGY_PLAY = (
    "The topology (workers' Python and token on the supervisors; submitted from the controller)"
)
PLAYBOOK = Path(__file__).resolve().parent / "ansible" / "render-kafka-security.yml"
RENDER_TIMEOUT_S = 300
HOST = "m1"
KAFKA_USERS = ("producer", "topology", "operator")


def fake_vault(passwords: dict[str, str] | None = None) -> dict[str, str]:
    """vault_* values for the plays; the Kafka users' from ``passwords`` (by short name)."""
    values = {
        "vault_applicant_api_token": "api-token-for-the-render",
        "vault_risk_service_token": "risk-token-for-the-render",
        "vault_kafka_admin_password": "admin-password-for-the-render",
        "vault_kafka_broker_password": "broker-password-for-the-render",
        "vault_kafka_cluster_id": "ClusterIdForTheRender0",
        # 32 bytes in URL-safe base64, as lendstream.secrets makes the tuple key
        "vault_topology_tuple_key": "cmVuZGVyLWtleS1ub3QtYS1zZWNyZXQtMzItYnl0ZXM",
    }
    for user in KAFKA_USERS:
        values[f"vault_kafka_{user}_password"] = (passwords or {}).get(
            user, f"{user}-password-for-the-render"
        )
    return values


def play_vars(playbook: str, name: str) -> dict[str, Any]:
    """The variables of the play ``name`` of ``playbook``: its vars_files', then its role's (or
    its task's), which the role variables may refer to."""
    path = ANSIBLE_DIR / playbook
    for play in yaml.safe_load(path.read_text()):
        if play.get("name") == name:
            variables: dict[str, Any] = {}
            for vars_file in play.get("vars_files") or []:
                variables.update(yaml.safe_load((path.parent / vars_file).read_text()) or {})
            holder = (play.get("roles") or play.get("tasks"))[0]
            return variables | dict(holder.get("vars") or {})
    raise AssertionError(f"{playbook} has no play {name!r}")


@dataclass(frozen=True)
class Rendered:
    root: Path

    @property
    def kafka(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.root / "kafka.json").read_text())
        return loaded

    def env(self, relative: str) -> dict[str, str]:
        return read_env_file(self.root / relative)

    @property
    def producer_env(self) -> dict[str, str]:
        return self.env("producer/conf/producer.env")

    @property
    def exporter_env(self) -> dict[str, str]:
        return self.env("pipeline-exporter.env")

    @property
    def operator_env_file(self) -> Path:
        return self.root / "kafka-client" / "operator.env"

    @property
    def topology_settings(self) -> dict[str, str]:
        """The submission's --set field=value pairs."""
        argv = json.loads((self.root / "topology-submit.json").read_text())
        pairs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--set"]
        return dict(pair.split("=", 1) for pair in pairs)


def render(
    root: Path,
    *,
    tls: bool,
    passwords: dict[str, str] | None = None,
    bootstrap: list[str] | None = None,
    ca_file: str | None = None,
    vault: dict[str, str] | None = None,
) -> Rendered:
    """Render for m1 with ``lendstream_tls`` = ``tls``; a private broker's ``bootstrap`` and
    ``ca_file`` replace the cluster's when given; ``vault`` adds to (or replaces) the fake
    Vault's values (e.g. a rotation's slot and previous passwords)."""
    root.mkdir(parents=True, exist_ok=True)
    variables: dict[str, Any] = {
        **play_vars("playbooks/pipeline.yml", "Producer (applicant API to Kafka)"),
        **play_vars(
            "playbooks/pipeline.yml",
            "Pipeline exporter (the topology's lag and dead letters, for Prometheus)",
        ),
        **play_vars("playbooks/deploy-topology.yml", TOPOLOGY_PLAY),
        **play_vars(
            "site.yml",
            "The operators' Kafka client settings on the supervisors and the producer's node",
        ),
        **fake_vault(passwords),
        **(vault or {}),
        "lendstream_tls": tls,
        "render_dir": str(root),
        "producer_manage_service": False,
        "producer_conf_dir": str(root / "producer" / "conf"),
        "producer_bin_dir": str(root / "producer" / "bin"),
        "producer_run_dir": str(root / "producer" / "run"),
        "pipeline_exporter_conf_dir": str(root / "exporter"),
        "topology_conf_dir": str(root),
        "topology_worker_user": "root",
        "kafka_client_conf_dir": str(root / "kafka-client"),
    }
    if bootstrap is not None:
        for name in (
            "producer_kafka_bootstrap_servers",
            "pipeline_exporter_kafka_bootstrap_servers",
            "topology_kafka_bootstrap_servers",
        ):
            variables[name] = bootstrap
    if ca_file is not None:
        for name in (
            "producer_kafka_ca_file",
            "pipeline_exporter_kafka_ca_file",
            "topology_kafka_ca_file",
            "kafka_security_ca_file",
        ):
            variables[name] = ca_file
    run_render_playbook(PLAYBOOK, variables, timeout_s=RENDER_TIMEOUT_S, limit=HOST)
    return Rendered(root)
