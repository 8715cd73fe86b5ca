"""Run the attack suite and the capture against a deployed layout."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from lendstream.attacks import capture, suite
from lendstream.chaos.cluster import TLS_CA_FILE, ChaosCluster, role_default
from lendstream.chaos.load import SteadyLoad
from lendstream.chaos.runner import first_seed, wait_published
from lendstream.cluster import REPO_ROOT
from lendstream.vcluster.network import bridge_name
from lendstream.vcluster.probe import probe_namespace

ROLES_DIR = REPO_ROOT / "ansible" / "roles"
LOAD_COUNT = 250
LOAD_RATE_PER_S = 25.0
# After the last applicant is in Kafka: the topology scores and stores it (seconds).
SETTLE_S = 20
LOAD_TIMEOUT_S = 600
# The ports the deployment encrypts when lendstream_tls is on.
TLS_SERVICES = (
    ("applicant_api", "applicant_api_port"),
    ("risk_service", "risk_service_port"),
    ("mysql", "mysql_port"),
    ("kafka", "kafka_broker_port"),  # SASL_SSL (kafka_security_enabled follows lendstream_tls)
    ("hbase", "hbase_regionserver_port"),  # RPC TLS (hbase_rpc_tls_enabled follows it too)
    ("hdfs", "hdfs_datanode_port"),  # AES data transfer (hdfs_data_transfer_encryption_enabled)
)
# The ports whose payload the application seals when lendstream_tls is on: the Storm workers'
# (Netty without TLS), where the topology's tuples travel sealed (lendstream.pipeline.sealing).
SEALED_SERVICES = (("storm", "storm_supervisor_slots_ports"),)


@cache
def service_ports() -> dict[int, str]:
    """Every port a role's defaults name (``*_port``, ``*_ports``) → ``role: variable``; a port
    several roles name goes to the role that serves it, not to its clients
    (``mysql: mysql_port`` rather than ``applicant_api: applicant_api_mysql_port``)."""
    import yaml  # noqa: PLC0415

    roles = sorted(path.name for path in ROLES_DIR.iterdir() if path.is_dir())
    candidates: dict[int, list[tuple[bool, str]]] = {}
    for role in roles:
        defaults = ROLES_DIR / role / "defaults" / "main.yml"
        if not defaults.exists():
            continue
        for name, value in (yaml.safe_load(defaults.read_text()) or {}).items():
            values = value if isinstance(value, list) else [value]
            if name.endswith(("_port", "_ports")) and all(isinstance(v, int) for v in values):
                rest = name.removeprefix(f"{role}_")
                a_client = any(other != role and other in rest for other in roles)
                for port in values:
                    candidates.setdefault(port, []).append((a_client, f"{role}: {name}"))
    return {port: min(names)[1] for port, names in candidates.items()}


def results_path(layout_name: str) -> Path:
    return REPO_ROOT / ".cache" / "attacks" / layout_name / "results.json"


def tls_ports() -> tuple[int, ...]:
    return tuple(int(role_default(role, name)) for role, name in TLS_SERVICES)


def sealed_ports() -> tuple[int, ...]:
    return tuple(int(port) for role, name in SEALED_SERVICES for port in role_default(role, name))


@dataclass
class Report:
    findings: list[suite.Finding] = field(default_factory=list)
    capture: capture.CaptureResult | None = None
    traffic: suite.Finding | None = None
    tls: bool = False
    load: dict[str, Any] = field(default_factory=dict)

    @property
    def failed_attacks(self) -> list[suite.Finding]:
        return suite.failures(self.findings)

    @property
    def clear_text_on_tls_ports(self) -> list[int | str]:
        if self.capture is None or not self.tls:
            return []
        protected = (*tls_ports(), *sealed_ports())
        return [port for port in self.capture.clear_text_ports() if port in protected]

    def as_dict(self) -> dict[str, Any]:
        return {
            "tls": self.tls,
            "attacks": [finding.as_dict() for finding in self.findings],
            "tls_traffic": None if self.traffic is None else self.traffic.as_dict(),
            "load": self.load,
            "capture": None
            if self.capture is None
            else {
                "interface": self.capture.interface,
                "seconds": self.capture.seconds,
                "frames": self.capture.frames,
                "ports": {str(port): vars(traffic) for port, traffic in self.capture.ports.items()},
            },
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")

    def text(self) -> str:
        lines = [suite.table(self.findings)]
        if self.traffic is not None:
            lines.append(
                f"\nlegitimate TLS traffic from {self.traffic.attack.origin}: "
                f"{self.traffic.outcome}: {self.traffic.detail}"
            )
        if self.capture is not None:
            lines.append(
                f"\ncapture on {self.capture.interface}: {self.capture.seconds} s, "
                f"{self.capture.frames} frames, {self.capture.needles} applicant values searched; "
                f"load: {self.load}"
            )
            encrypted = tls_ports() if self.tls else ()
            sealed = sealed_ports() if self.tls else ()
            lines.append(capture.table(self.capture, service_ports(), encrypted, sealed))
        return "\n".join(lines)


def run_attacks(cluster: ChaosCluster, secrets: dict[str, str]) -> list[suite.Finding]:
    targets = suite.Targets(cluster)
    with probe_namespace(cluster.layout) as probe:
        findings = suite.run_in_probe(probe, suite.probe_plan(targets))
    member = suite.member_node(targets)
    return findings + suite.run_on_member(cluster, member, suite.member_plan(targets, secrets))


def tls_traffic_attack(cluster: ChaosCluster, secrets: dict[str, str], prefix: str) -> suite.Attack:
    targets = suite.Targets(cluster)
    member = suite.member_node(targets)
    return suite.Attack(
        "legitimate clients over TLS",
        member,
        "tls-traffic",
        cluster.hosts("mysql")[:1],
        int(role_default("mysql", "mysql_port")),
        suite.NOT_ENFORCED,
        {
            "ca_file": TLS_CA_FILE,
            "prefix": prefix,
            "mysql_user": role_default("applicant_api", "applicant_api_mysql_user"),
            "mysql_password": secrets["vault_applicant_api_mysql_password"],
            "mysql_database": role_default("applicant_api", "applicant_api_mysql_database"),
            "api_host": cluster.hosts("applicant_api")[0],
            "api_port": int(role_default("applicant_api", "applicant_api_port")),
            "api_token": secrets["vault_applicant_api_token"],
            "risk_hosts": list(cluster.hosts("risk_service")),
            "risk_port": int(role_default("risk_service", "risk_service_port")),
            "risk_token": secrets["vault_risk_service_token"],
        },
    )


def run_capture(
    cluster: ChaosCluster,
    secrets: dict[str, str],
    report: Report,
    *,
    count: int = LOAD_COUNT,
    rate_per_s: float = LOAD_RATE_PER_S,
    progress: Callable[[str], None] = print,
) -> None:
    """Capture on the bridge while ``count`` applicants go from MariaDB to HBase (and, with
    TLS, a member reads them back through MariaDB, the API and the risk services)."""
    seed = first_seed()
    needles = [f"SYN-{seed}-{n}" for n in range(count)]
    started = time.monotonic()
    with capture.BridgeCapture(bridge_name(cluster.layout), needles, service_ports()) as capturing:
        progress(f"capture: loading {count} applicants (seed {seed}) at {rate_per_s}/s")
        load = SteadyLoad.start(cluster, seed, count, rate_per_s)
        rows = load.wait(cluster, timeout_s=LOAD_TIMEOUT_S)
        if cluster.tls:
            attack = tls_traffic_attack(cluster, secrets, f"SYN-{seed}-")
            report.traffic = suite.run_on_member(cluster, attack.origin, [attack])[0]
        published = wait_published(cluster, rows)
        time.sleep(SETTLE_S)
    report.capture = capturing.result
    report.load = {
        "seed": seed,
        "applicants": count,
        "table_rows": rows,
        "topic_records": published,
        "seconds": round(time.monotonic() - started),
    }


def run_suite(
    cluster: ChaosCluster, with_capture: bool = True, progress: Callable[[str], None] = print
) -> Report:
    secrets = suite.vault_secrets(cluster)
    report = Report(tls=cluster.tls)
    started = time.monotonic()
    report.findings = run_attacks(cluster, secrets)
    progress(f"attacks: {len(report.findings)} in {time.monotonic() - started:.0f} s")
    if with_capture:
        run_capture(cluster, secrets, report, progress=progress)
    return report
