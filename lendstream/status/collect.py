"""Reading a deployed cluster for `lendstream status`: every probe at once, each bounded.

Groups and host variables come from the inventory (``ansible-inventory``, read by
:func:`lendstream.storm.inventory.inventory_groups`), ports from the host's variables or else the
roles' defaults (:func:`lendstream.chaos.cluster.role_default`, their one home). From the
controller: the NameNodes' JMX, the ResourceManagers' REST API, nimbus (its
one Thrift client, :mod:`lendstream.storm.nimbus`), the risk services' ``/healthz`` and
``/metrics`` and Alertmanager — the ports the firewall opens to the controller. Through Ansible:
each node's ``lendstream-*`` units (one ad-hoc call over the inventory), each HBase Thrift
server's port on its node's loopback (one ad-hoc ``wait_for`` over the group), and
:mod:`lendstream.status.node_probe` on a supervisor (Kafka, ZooKeeper's ``srvr`` over the node's
client certificate, the ports open to the cluster only). A node that does not answer is
reported, never waited for beyond its timeout.
"""

from __future__ import annotations

import json
import shlex
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lendstream.chaos.cluster import (
    TLS_CA_FILE,
    ansible_json_environment,
    hadoop_web_port,
    role_default,
    run_ansible,
)
from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.status import node_probe, readings
from lendstream.status.readings import HostAnswer, NameNodeReading, StormReading
from lendstream.status.report import Component, Report, Row
from lendstream.storm.inventory import inventory_groups
from lendstream.storm.nimbus import CONNECTION_ERRORS, NimbusAddress, leader_session

ORDER = ("nodes", "zookeeper", "kafka", "hdfs", "yarn", "hbase", "storm", "pipeline", "alerts")
# Every enabled lendstream unit (a stopped one is not loaded, so the pattern alone misses it)
# and every loaded one.
UNITS_COMMAND = (
    "systemctl show --property=Id,Type,LoadState,ActiveState,Result"
    " $(systemctl list-unit-files --no-legend --plain 'lendstream-*.service'"
    " | awk '$2 == \"enabled\" {print $1}') 'lendstream-*.service'"
)
RISK_LATENCY_METRIC = "lendstream_risk_request_duration_seconds"
RISK_SCORE_ROUTE = "/v1/score"
# Supervisors asked to run the node probe at once (the first answer is used): one may be down.
NODE_PROBE_HOSTS = 3

T = TypeVar("T")


def per_host(hosts: list[str], read: Callable[[str], T]) -> dict[str, T]:
    """``read`` on every host at once (each bounded by its own timeout), in the hosts' order."""
    if not hosts:
        return {}
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        return dict(zip(hosts, pool.map(read, hosts), strict=True))


@dataclass(frozen=True)
class Settings:
    inventory: Path
    vault_password_file: Path | None
    timeout_s: float = 5.0  # each network call
    ansible_timeout_s: float = 60.0  # each Ansible call, as a whole
    window_s: float = 300.0  # the dead-letter rate's window
    max_lag: int = 100_000


class Cluster:
    """The inventory's groups and hosts, and where each service listens."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.groups, self.hostvars = inventory_groups(settings.inventory)

    def hosts(self, group: str) -> list[str]:
        return list(self.groups.get(group, []))

    @property
    def all_hosts(self) -> list[str]:
        return self.hosts("all") or sorted(self.hostvars)

    def address(self, host: str) -> str:
        """Where the controller reaches ``host`` (``ansible_host``, else its name)."""
        return str(self.hostvars.get(host, {}).get("ansible_host", host))

    def port(self, host: str, role: str, variable: str) -> int:
        return int(self.hostvars.get(host, {}).get(variable, role_default(role, variable)))

    def var(self, name: str, default: Any = None) -> Any:
        first = self.all_hosts[0] if self.all_hosts else ""
        return self.hostvars.get(first, {}).get(name, default)

    @property
    def tls(self) -> bool:
        return str(self.var("lendstream_tls", False)).lower() in ("true", "yes", "1")

    def ssl_context(self) -> ssl.SSLContext | None:
        """For the controller's requests to the pipeline's services and the Hadoop web servers
        under ``lendstream_tls``: the deployment CA from the inventory's Vault."""
        if not self.tls:
            return None
        return ssl.create_default_context(cadata=str(self.var("vault_pki_ca_cert", "")))

    def ansible_environment(self) -> dict[str, str]:
        return ansible_json_environment(
            self.settings.vault_password_file,
            ANSIBLE_TASK_TIMEOUT=str(int(self.settings.ansible_timeout_s)),
        )

    def ad_hoc(
        self, pattern: str, module: str, arguments: str, *, become: bool = False
    ) -> dict[str, HostAnswer]:
        """One ad-hoc Ansible call, bounded: host → its answer (as root with ``become``)."""
        argv = [
            str(Path(sys.executable).parent / "ansible"),
            *("-i", str(self.settings.inventory), pattern),
            *("-m", module, "-a", arguments),
            *("-T", str(int(self.settings.timeout_s * 2))),
            *(("--become",) if become else ()),
        ]
        try:
            result = run_ansible(
                argv, self.ansible_environment(), self.settings.ansible_timeout_s + 15
            )
        except subprocess.TimeoutExpired:
            return {}
        output = result.stdout
        if "{" not in output:
            raise RuntimeError(f"ansible {pattern} -m {module}: {result.stderr[-1500:]}")
        document, _end = json.JSONDecoder().raw_decode(output[output.index("{") :])
        return readings.ad_hoc_answers(document)


# ---- the probes -------------------------------------------------------------------------------


def units(cluster: Cluster) -> Component:
    hosts = cluster.all_hosts
    try:
        answers = cluster.ad_hoc("all", "ansible.builtin.shell", UNITS_COMMAND)
    except RuntimeError as error:  # Ansible itself failed: every node unknown, and why
        rows = [Row(host, "node", "unknown", healthy=False) for host in hosts]
        return Component("nodes", rows, [f"not read ({readings.brief(str(error))})"])
    return readings.units_component(hosts, answers)


def zookeeper(cluster: Cluster, node: Mapping[str, Any]) -> Component:
    """Each member's ``srvr`` mode, asked by the node probe (over mutual TLS with the node's
    certificate when the client port asks for it: the controller has none)."""
    modes = node.get("zookeeper")
    if not isinstance(modes, dict):
        why = readings.brief(str(node.get("error", "not read")))
        return Component("zookeeper", problems=[f"not read ({why})"])
    return readings.zookeeper_component({h: modes.get(h) for h in cluster.hosts("zookeeper")})


def get_json(url: str, timeout_s: float, context: ssl.SSLContext | None = None) -> Any:
    return node_probe.get_json(url, timeout_s, context)


def hadoop_web_base(cluster: Cluster, host: str, daemon: str) -> str:
    """``scheme://address:port`` of ``daemon``'s web server on ``host``: HTTPS with
    lendstream_tls (read with ``cluster.ssl_context()``), its port from the inventory or the
    role's default."""
    role, variable = hadoop_web_port(daemon, cluster.tls)
    scheme = "https" if cluster.tls else "http"
    return f"{scheme}://{cluster.address(host)}:{cluster.port(host, role, variable)}"


def hdfs(cluster: Cluster) -> Component:
    context = cluster.ssl_context()

    def reading(host: str) -> NameNodeReading:
        base = hadoop_web_base(cluster, host, "namenode")
        query = "/jmx?qry=Hadoop:service=NameNode,name="
        t = cluster.settings.timeout_s
        try:
            status = get_json(base + query + "NameNodeStatus", t, context)
            info = get_json(base + query + "NameNodeInfo", t, context)
        except (OSError, ValueError):
            return NameNodeReading(None)
        return readings.namenode_reading(status, info)

    namenodes = per_host(cluster.hosts("hdfs_namenode"), reading)
    return readings.hdfs_component(namenodes, cluster.hosts("hdfs_datanode"))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A standby ResourceManager redirects to the active one by a name the controller may not
    resolve: ask each by its own address only."""

    def redirect_request(self, *args: Any) -> None:
        return None


def yarn(cluster: Cluster) -> Component:
    opener = urllib.request.build_opener(
        _NoRedirect, urllib.request.HTTPSHandler(context=cluster.ssl_context())
    )
    t = cluster.settings.timeout_s

    def get(host: str, path: str) -> Any:
        request = urllib.request.Request(
            hadoop_web_base(cluster, host, "resourcemanager") + path,
            headers={"Accept": "application/json"},
        )
        with opener.open(request, timeout=t) as answer:
            return json.load(answer)

    def ha_state(host: str) -> str | None:
        try:
            return str(get(host, "/ws/v1/cluster/info")["clusterInfo"]["haState"])
        except (OSError, ValueError, KeyError):
            return None

    managers = per_host(cluster.hosts("yarn_resourcemanager"), ha_state)
    running = None
    for host, state in managers.items():
        if state == "ACTIVE":
            try:
                nodes = (get(host, "/ws/v1/cluster/nodes?states=RUNNING")["nodes"] or {}).get(
                    "node", []
                )
                running = [str(n["nodeHostName"]) for n in nodes]
            except (OSError, ValueError, KeyError):
                running = None
            break
    return readings.yarn_component(managers, running, cluster.hosts("yarn_nodemanager"))


def storm(cluster: Cluster) -> Component:
    seeds = {
        h: NimbusAddress(cluster.address(h), cluster.port(h, "storm", "storm_nimbus_thrift_port"))
        for h in cluster.hosts("storm_nimbus")
    }
    topology = str(role_default("topology", "topology_name"))
    try:
        with leader_session(seeds, int(cluster.settings.timeout_s * 1000)) as nimbus:
            info = nimbus.client.getClusterInfo()
        reading = StormReading(
            nimbus_leader=next(
                (readings.short_name(n.host) for n in info.nimbuses if n.isLeader), None
            ),
            nimbuses=frozenset(readings.short_name(n.host) for n in info.nimbuses),
            supervisors=frozenset(readings.short_name(s.host) for s in info.supervisors),
            topologies={t.name: str(t.status) for t in info.topologies},
        )
    except (*CONNECTION_ERRORS, RuntimeError) as error:
        reading = StormReading(None, error=str(error)[:300])
    return readings.storm_component(
        cluster.hosts("storm_nimbus"), cluster.hosts("storm_supervisor"), reading, topology
    )


def node_readings(cluster: Cluster) -> dict[str, Any]:
    """:mod:`lendstream.status.node_probe` on the first supervisors at once; the first full
    answer (or {} when none answers)."""
    conf = TopologyConf()
    scheme = "https" if cluster.tls else "http"
    arguments = {
        "brokers": [
            f"{h}:{cluster.port(h, 'kafka', 'kafka_broker_port')}"
            for h in cluster.hosts("kafka_broker")
        ],
        "topic": conf.kafka_topic,
        "dead_letter_topic": conf.kafka_dead_letter_topic,
        "group": conf.kafka_group_id,
        "window_s": cluster.settings.window_s,
        "hbase_masters": [
            f"{h}:{cluster.port(h, 'hbase', 'hbase_master_info_port')}"
            for h in cluster.hosts("hbase_master") + cluster.hosts("hbase_backup_master")
        ],
        "hbase_regionservers": [
            f"{h}:{cluster.port(h, 'hbase', 'hbase_regionserver_info_port')}"
            for h in cluster.hosts("hbase_regionserver")
        ],
        "hbase_table": conf.hbase_table,
        "applicant_apis": [
            f"{scheme}://{h}:{cluster.port(h, 'applicant_api', 'applicant_api_port')}"
            for h in cluster.hosts("applicant_api")
        ],
        "ca_file": TLS_CA_FILE if cluster.tls else "",
        "timeout_s": cluster.settings.timeout_s,
        "zookeeper_members": cluster.hosts("zookeeper"),
        "zookeeper_port": cluster.port(
            (cluster.hosts("zookeeper") or [""])[0], "zookeeper", "zookeeper_client_port"
        ),
    }
    script = Path(node_probe.__file__).resolve()
    document = json.dumps(arguments, separators=(",", ":"))
    probe_hosts = cluster.hosts("storm_supervisor")[:NODE_PROBE_HOSTS]
    pattern = ",".join(probe_hosts)
    venv = cluster.hostvars.get(probe_hosts[0] if probe_hosts else "", {}).get(
        "app_venv_dir", role_default("app_venv", "app_venv_dir")
    )
    # As root: a secured cluster's Kafka client settings (the operator's) are root's.
    answers = cluster.ad_hoc(
        pattern,
        "ansible.builtin.script",
        f"executable={venv}/bin/python {script} {shlex.quote(document)}",
        become=True,
    )
    for answer in answers.values():
        if answer.stdout and "{" in answer.stdout:
            text = answer.stdout[answer.stdout.index("{") :]
            parsed: dict[str, Any] = json.loads(text)
            return parsed
    hosts_by_error: dict[str, list[str]] = {}
    for host, answer in answers.items():
        why = readings.brief(answer.error or answer.stdout or "no output", 100)
        hosts_by_error.setdefault(why, []).append(host)
    errors = "; ".join(f"{', '.join(h)}: {why}" for why, h in hosts_by_error.items())
    return {"error": f"no supervisor ran the node probe ({errors or 'no answer'})"}


def kafka(cluster: Cluster, node: Mapping[str, Any]) -> Component:
    reading = node.get("kafka", {"error": node.get("error", "not read")})
    return readings.kafka_component(
        cluster.hosts("kafka_controller"), cluster.hosts("kafka_broker"), reading
    )


def local_thrift(cluster: Cluster) -> dict[str, str | None]:
    """Each Thrift host → why its Thrift port did not answer on the node's own loopback (None:
    it did), asked on the node (ad-hoc ``wait_for``; the port and address are the host's
    variables, else the hbase role's defaults)."""
    hosts = cluster.hosts("hbase_thrift")
    if not hosts:
        return {}
    port = role_default("hbase", "hbase_thrift_port")
    address = role_default("hbase", "hbase_thrift_address")
    arguments = (
        f"host={{{{ hbase_thrift_address | default('{address}') }}}} "
        f"port={{{{ hbase_thrift_port | default({port}) }}}} "
        f"timeout={max(1, int(cluster.settings.timeout_s))}"
    )
    try:
        answers = cluster.ad_hoc(",".join(hosts), "ansible.builtin.wait_for", arguments)
    except RuntimeError as error:  # Ansible itself failed: every Thrift server unknown, and why
        return dict.fromkeys(hosts, f"not asked ({readings.brief(str(error))})")
    return readings.port_answers(hosts, answers)


def hbase(cluster: Cluster, node: Mapping[str, Any], thrift: Mapping[str, str | None]) -> Component:
    answers = node.get("hbase_masters", {})
    masters: dict[str, dict[str, Any]] = {}
    for host in cluster.hosts("hbase_master") + cluster.hosts("hbase_backup_master"):
        answer = next((a for key, a in answers.items() if key.split(":")[0] == host), None)
        if not isinstance(answer, dict) or answer.get("error") or "beans" not in answer:
            why = answer.get("error") if isinstance(answer, dict) else None
            masters[host] = {"error": why or node.get("error", "not read")}
        else:
            masters[host] = readings.hbase_master_reading(answer)
    writes = {key.split(":")[0]: answer for key, answer in node.get("hbase_writes", {}).items()}
    return readings.hbase_component(
        masters, cluster.hosts("hbase_regionserver"), thrift, writes, TopologyConf().hbase_table
    )


@dataclass(frozen=True)
class RiskScrape:
    """Each risk service's /healthz (None: 200, else why not) and /v1/score latency buckets."""

    health: dict[str, str | None]
    buckets: dict[str, dict[float, float]]
    at: float  # time.monotonic() of the scrape


def risk_services(cluster: Cluster, hosts: list[str] | None = None) -> RiskScrape:
    context = cluster.ssl_context()
    scheme = "https" if cluster.tls else "http"
    t = cluster.settings.timeout_s

    def read(host: str) -> tuple[str | None, dict[float, float] | None]:
        port = cluster.port(host, "risk_service", "risk_service_port")
        base = f"{scheme}://{cluster.address(host)}:{port}"
        error = node_probe.http_status_error(f"{base}/healthz", t, context)
        if error is not None:
            return error, None
        try:
            with urllib.request.urlopen(f"{base}/metrics", timeout=t, context=context) as answer:
                exposition = answer.read().decode()
        except (OSError, ValueError):
            return None, None
        route = {"route": RISK_SCORE_ROUTE}
        return None, readings.histogram_buckets(exposition, RISK_LATENCY_METRIC, route)

    at = time.monotonic()
    answers = per_host(cluster.hosts("risk_service") if hosts is None else hosts, read)
    return RiskScrape(
        health={h: error for h, (error, _) in answers.items()},
        buckets={h: buckets for h, (_, buckets) in answers.items() if buckets is not None},
        at=at,
    )


def risk_latency(cluster: Cluster, first: RiskScrape) -> readings.RiskLatency:
    """A second scrape of the services that answered the first: p99 between the two."""
    second = risk_services(cluster, list(first.buckets))
    increases = [
        readings.bucket_increase(later, first.buckets[host])
        for host, later in second.buckets.items()
        if host in first.buckets
    ]
    window = readings.summed_buckets(i for i in increases if i is not None)
    since_start = readings.summed_buckets(second.buckets.values())
    return readings.RiskLatency(
        window_s=second.at - first.at,
        requests=int(max(window.values(), default=0)),
        p99_s=readings.histogram_quantile(0.99, window),
        since_start_p99_s=readings.histogram_quantile(0.99, since_start),
    )


def pipeline(cluster: Cluster, risk: RiskScrape, node: Mapping[str, Any]) -> Component:
    """The pipeline block; the risk services are scraped again for the latency window (the
    time the node probe took since the first scrape)."""
    latency = risk_latency(cluster, risk)
    limits = readings.PipelineLimits(
        dead_letter_ratio=float(role_default("prometheus", "prometheus_alert_dead_letter_ratio")),
        p99_latency_s=float(role_default("prometheus", "prometheus_alert_risk_p99_latency_s")),
        max_lag=cluster.settings.max_lag,
    )
    missing = {"error": node.get("error", "not read")}
    sections: dict[str, Any] = {
        "lag": node.get("lag", missing),
        "recent": node.get("recent", missing),
        "applicant_api": {
            next((h for h in cluster.hosts("applicant_api") if f"//{h}:" in url), url): error
            for url, error in node.get("applicant_api", {}).items()
        },
    }
    return readings.pipeline_component(risk.health, latency, sections, limits)


def alerts(cluster: Cluster) -> Component | None:
    answers: dict[str, list[dict[str, Any]] | None] = {}
    for host in cluster.hosts("monitoring"):
        port = cluster.port(host, "alertmanager", "alertmanager_port")
        url = f"http://{cluster.address(host)}:{port}/api/v2/alerts?active=true&silenced=false&inhibited=false"
        try:
            answers[host] = list(get_json(url, cluster.settings.timeout_s))
        except (OSError, ValueError):
            answers[host] = None
    return readings.alerts_component(answers)


def _or_problem(name: str, read: Callable[[], T]) -> T | Component:
    try:
        return read()
    except Exception as error:
        return Component(name, problems=[f"not read ({type(error).__name__}: {error})"[:300]])


def collect(settings: Settings) -> Report:
    """Every probe at once; the report in a fixed order."""
    cluster = Cluster(settings)
    direct: dict[str, Callable[[], Component | None]] = {
        "nodes": lambda: units(cluster),
        "hdfs": lambda: hdfs(cluster),
        "yarn": lambda: yarn(cluster),
        "storm": lambda: storm(cluster),
        "alerts": lambda: alerts(cluster),
    }
    with ThreadPoolExecutor(max_workers=len(direct) + 3) as pool:
        node_future = pool.submit(node_readings, cluster)
        risk_future = pool.submit(risk_services, cluster)
        thrift_future = pool.submit(local_thrift, cluster)
        futures: dict[str, Future[Component | None]] = {
            name: pool.submit(_or_problem, name, read) for name, read in direct.items()
        }
        node = _or_problem("node probe", node_future.result)
        if isinstance(node, Component):
            node = {"error": "; ".join(node.problems)}
        after_node: dict[str, Future[Component | None]] = {
            "zookeeper": pool.submit(_or_problem, "zookeeper", lambda: zookeeper(cluster, node)),
            "kafka": pool.submit(_or_problem, "kafka", lambda: kafka(cluster, node)),
            "hbase": pool.submit(
                _or_problem, "hbase", lambda: hbase(cluster, node, thrift_future.result())
            ),
            "pipeline": pool.submit(
                _or_problem, "pipeline", lambda: pipeline(cluster, risk_future.result(), node)
            ),
        }
        futures |= after_node
        found = [futures[name].result() for name in ORDER]
    return Report([c for c in found if c is not None])
