"""What each probe answered → a component's rows and problems (pure: no network, no processes).

"Healthy" here is what the roles' health gates (``ansible/roles/*/tasks/health.yml``) wait for:
ZooKeeper members serving with exactly one leader; a Kafka quorum with a leader, every broker
registered, no under-replicated or offline partition; one active NameNode out of safe mode and
every DataNode live; one active ResourceManager running every NodeManager; exactly one active
HBase master with every RegionServer live; a leading nimbus listing every supervisor and the
topology ACTIVE; the risk services' ``/healthz`` answering 200.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from lendstream.status.report import Component, Row

NOT_ANSWERING = "not answering"
ZOOKEEPER_SERVING = ("leader", "follower", "standalone")
ZOOKEEPER_LEADING = ("leader", "standalone")
# Fewer applicants than this in the window: the dead-letter ratio is shown, not judged (a re-drive
# or a few bad records in a quiet window is no trend).
DEAD_LETTER_MIN_APPLICANTS = 100
# Fewer /v1/score requests than this between the two scrapes: their p99 is the slowest one or
# two, shown, not judged.
LATENCY_MIN_REQUESTS = 100


def short_name(host: str) -> str:
    """A host's first label (``w1.lendstream.internal:9866`` → ``w1``): daemons name nodes by
    their fully qualified names, the inventory by the short ones."""
    return host.split(":", maxsplit=1)[0].split(".", maxsplit=1)[0]


def count_problem(what: str, found: Sequence[str]) -> list[str]:
    """``[]`` when exactly one ``what`` was found, else the problem."""
    if len(found) == 1:
        return []
    if not found:
        return [f"no {what}"]
    return [f"{len(found)} {what}s ({', '.join(found)})"]


# ---- systemd ----------------------------------------------------------------------------------


def brief(text: str, limit: int = 160) -> str:
    """An error message on one line, at most ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class UnitState:
    state: str  # what the table shows
    healthy: bool


def unit_states(show: str) -> dict[str, UnitState]:
    """``systemctl show --property=Id,Type,LoadState,ActiveState,Result`` of several units (blank
    lines between them) → unit → its state. Active is healthy; so is a oneshot unit that ran
    and exited successfully (it is inactive by design). Units not found are left out."""
    states: dict[str, UnitState] = {}
    for block in show.strip().split("\n\n"):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if not fields.get("Id") or fields.get("LoadState") == "not-found":
            continue
        active, result = fields.get("ActiveState", "unknown"), fields.get("Result", "")
        unit = fields["Id"].removesuffix(".service")
        if fields.get("Type") == "oneshot" and active == "inactive" and result == "success":
            states[unit] = UnitState("ran (oneshot)", healthy=True)
        elif active == "active":
            states[unit] = UnitState("active", healthy=True)
        else:
            shown = active if result in ("", "success") else f"{active} ({result})"
            states[unit] = UnitState(shown, healthy=False)
    return states


@dataclass(frozen=True)
class HostAnswer:
    """What one host answered an ad-hoc Ansible command: its output, or why there is none."""

    stdout: str | None
    error: str = ""


def ad_hoc_answers(document: Mapping[str, Any]) -> dict[str, HostAnswer]:
    """Ansible's ``json`` stdout callback document of an ad-hoc run → host → its answer."""
    answers: dict[str, HostAnswer] = {}
    for play in document.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                if result.get("unreachable"):
                    answers[host] = HostAnswer(None, "unreachable")
                elif result.get("failed") and "stdout" not in result:
                    answers[host] = HostAnswer(None, str(result.get("msg", "failed"))[:200])
                else:
                    answers[host] = HostAnswer(str(result.get("stdout", "")))
    return answers


def port_answers(hosts: Sequence[str], answers: Mapping[str, HostAnswer]) -> dict[str, str | None]:
    """Each host's ad-hoc ``wait_for`` of a port (asked on the node itself) → why it did not
    answer (None: it did): the module's message, unreachable, or no answer at all."""
    found: dict[str, str | None] = {}
    for host in hosts:
        answer = answers.get(host, HostAnswer(None, "no answer"))
        found[host] = None if answer.stdout is not None else brief(answer.error or "failed")
    return found


def units_component(hosts: Sequence[str], answers: Mapping[str, HostAnswer]) -> Component:
    """Every inventory host: one row naming its healthy ``lendstream-*`` units (without the
    prefix), one row for each unit that is not, or the node itself when it did not answer."""
    component = Component("nodes")
    for host in hosts:
        answer = answers.get(host, HostAnswer(None, "no answer"))
        if answer.stdout is None:
            component.rows.append(Row(host, "node", f"down ({brief(answer.error)})", False))
            continue
        states = unit_states(answer.stdout)
        healthy = [unit.removeprefix("lendstream-") for unit, s in states.items() if s.healthy]
        shown = "active: " + ", ".join(sorted(healthy)) if healthy else "no lendstream unit active"
        component.rows.append(Row(host, "units", shown))
        for unit, state in sorted(states.items()):
            if not state.healthy:
                component.rows.append(Row(host, unit, state.state, healthy=False))
    return component


# ---- ZooKeeper --------------------------------------------------------------------------------


def srvr_mode(answer: str) -> str | None:
    """The ``Mode:`` of a ZooKeeper ``srvr`` answer (None: the member does not serve)."""
    for line in answer.splitlines():
        if line.startswith("Mode:"):
            return line.removeprefix("Mode:").strip()
    return None


def zookeeper_component(modes: Mapping[str, str | None]) -> Component:
    component = Component("zookeeper")
    for host, mode in modes.items():
        state = mode or NOT_ANSWERING
        component.rows.append(Row(host, "member", state, healthy=state in ZOOKEEPER_SERVING))
    leaders = [host for host, mode in modes.items() if mode in ZOOKEEPER_LEADING]
    component.problems += count_problem("leader", leaders)
    return component


# ---- Kafka (read on a node: lendstream.status.node_probe) -------------------------------------


def kafka_component(
    controllers: Sequence[str], brokers: Sequence[str], reading: Mapping[str, Any]
) -> Component:
    """``reading``: the node probe's ``kafka`` section (``error``, or ``brokers`` id → host,
    ``quorum`` {``leader_id``, ``voters`` id → host or None}, ``under_replicated`` and
    ``offline`` partition names)."""
    component = Component("kafka")
    if reading.get("error"):
        component.rows += [Row(h, "controller", "unknown", False) for h in controllers]
        component.rows += [Row(h, "broker", "unknown", False) for h in brokers]
        component.problems.append(f"not read ({brief(reading['error'])})")
        return component
    quorum = reading.get("quorum", {})
    leader_id = quorum.get("leader_id", -1)
    voters = {int(i): short_name(h) if h else None for i, h in quorum.get("voters", {}).items()}
    for host in controllers:
        ids = [i for i, h in voters.items() if h == short_name(host)]
        if not ids:
            component.rows.append(Row(host, "controller", "not a voter", healthy=False))
        else:
            role = "leader" if ids[0] == leader_id else "voter"
            component.rows.append(Row(host, "controller", f"{role} (id {ids[0]})"))
    registered = {short_name(h): int(i) for i, h in reading.get("brokers", {}).items()}
    for host in brokers:
        node_id = registered.get(short_name(host))
        state = f"registered (id {node_id})" if node_id is not None else "not registered"
        component.rows.append(Row(host, "broker", state, healthy=node_id is not None))
    if leader_id is None or int(leader_id) < 0:
        component.problems.append("controller quorum has no leader")
    if reading.get("under_replicated"):
        component.problems.append(
            "under-replicated partitions: " + ", ".join(reading["under_replicated"])
        )
    if reading.get("offline"):
        component.problems.append("offline partitions: " + ", ".join(reading["offline"]))
    return component


# ---- HDFS -------------------------------------------------------------------------------------


def first_bean(jmx: Mapping[str, Any]) -> dict[str, Any]:
    """The first bean of a Hadoop ``/jmx?qry=…`` answer ({} when it has none)."""
    beans = jmx.get("beans") or [{}]
    return dict(beans[0])


@dataclass(frozen=True)
class NameNodeReading:
    state: str | None  # NameNodeStatus.State: active, standby …; None: not answering
    fs_state: str = ""  # FSNamesystemState.FSState: Operational, safeMode
    live_datanodes: frozenset[str] = frozenset()  # short names, from NameNodeInfo.LiveNodes


def namenode_reading(status: Mapping[str, Any], info: Mapping[str, Any]) -> NameNodeReading:
    """``NameNodeStatus`` and ``NameNodeInfo`` JMX answers → the NameNode's reading."""
    status_bean, info_bean = first_bean(status), first_bean(info)
    live = json.loads(info_bean.get("LiveNodes") or "{}")
    return NameNodeReading(
        state=str(status_bean.get("State", "unknown")),
        fs_state="safeMode" if info_bean.get("Safemode") else "Operational",
        live_datanodes=frozenset(short_name(name) for name in live),
    )


def hdfs_component(namenodes: Mapping[str, NameNodeReading], datanodes: Sequence[str]) -> Component:
    component = Component("hdfs")
    for host, reading in namenodes.items():
        state = reading.state or NOT_ANSWERING
        component.rows.append(Row(host, "namenode", state, state in ("active", "standby")))
    active = [host for host, reading in namenodes.items() if reading.state == "active"]
    component.problems += count_problem("active NameNode", active)
    live = namenodes[active[0]].live_datanodes if active else None
    if active and namenodes[active[0]].fs_state != "Operational":
        component.problems.append(f"NameNode {active[0]} is in safe mode")
    for host in datanodes:
        if live is None:
            component.rows.append(Row(host, "datanode", "unknown (no active NameNode)", False))
        else:
            alive = short_name(host) in live
            component.rows.append(Row(host, "datanode", "live" if alive else "not live", alive))
    return component


# ---- YARN -------------------------------------------------------------------------------------


def yarn_component(
    managers: Mapping[str, str | None],
    running_nodes: Iterable[str] | None,
    nodemanagers: Sequence[str],
) -> Component:
    """``managers``: host → its ``haState`` (ACTIVE, STANDBY; None: not answering);
    ``running_nodes``: the NodeManagers the active one runs (None: not read)."""
    component = Component("yarn")
    for host, state in managers.items():
        shown = (state or NOT_ANSWERING).lower()
        component.rows.append(Row(host, "resourcemanager", shown, shown in ("active", "standby")))
    active = [host for host, state in managers.items() if state == "ACTIVE"]
    component.problems += count_problem("active ResourceManager", active)
    running = None if running_nodes is None else {short_name(n) for n in running_nodes}
    for host in nodemanagers:
        if running is None:
            component.rows.append(Row(host, "nodemanager", "unknown", healthy=False))
        else:
            up = short_name(host) in running
            component.rows.append(Row(host, "nodemanager", "running" if up else "not running", up))
    return component


# ---- HBase (read on a node: the masters' web port is open to the cluster only) ----------------


def hbase_master_reading(server_jmx: Mapping[str, Any]) -> dict[str, Any]:
    """``Master,sub=Server`` JMX → {active, live: [short names], dead: [short names]}."""
    bean = first_bean(server_jmx)

    def hosts(tag: str) -> list[str]:
        return [short_name(n.split(",")[0]) for n in str(bean.get(tag, "")).split(";") if n]

    return {
        "active": str(bean.get("tag.isActiveMaster", "")).lower() == "true",
        "live": hosts("tag.liveRegionServers"),
        "dead": hosts("tag.deadRegionServers"),
    }


def table_writes(table: str, regions: Mapping[str, Any] | None) -> str:
    """`` · members: 2 regions, 1,234 writes`` from a RegionServer's per-region write requests
    (empty when not read)."""
    if regions is None:
        return ""
    if "error" in regions:
        return f" · {table} writes not read"
    total = sum(int(count) for count in regions.values())
    return f" · {table}: {len(regions)} regions, {total:,} writes"


def hbase_component(
    masters: Mapping[str, Mapping[str, Any]],
    regionservers: Sequence[str],
    thrift: Mapping[str, str | None],
    writes: Mapping[str, Mapping[str, Any]] | None = None,
    table: str = "members",
) -> Component:
    """``masters``: host → :func:`hbase_master_reading` (or {``error``}); ``thrift``: host →
    why its port did not answer (None: it did); ``writes``: RegionServer host → write requests
    per region of ``table`` it serves (lendstream.hbase_spread.regionserver_writes, or
    {``error``}), shown on its row: how the pipeline's writes spread over the cluster."""
    component = Component("hbase")
    for host, reading in masters.items():
        if reading.get("error"):
            component.rows.append(Row(host, "master", NOT_ANSWERING, healthy=False))
        else:
            component.rows.append(Row(host, "master", "active" if reading["active"] else "backup"))
    active = [host for host, reading in masters.items() if reading.get("active")]
    component.problems += count_problem("active master", active)
    live = set(masters[active[0]]["live"]) if len(active) == 1 else None
    for host in regionservers:
        if live is None:
            component.rows.append(Row(host, "regionserver", "unknown", healthy=False))
        else:
            up = short_name(host) in live
            status = ("live" if up else "not live") + table_writes(table, (writes or {}).get(host))
            component.rows.append(Row(host, "regionserver", status, up))
    if len(active) == 1 and masters[active[0]]["dead"]:
        component.problems.append("dead RegionServers: " + ", ".join(masters[active[0]]["dead"]))
    for host, error in thrift.items():
        component.rows.append(
            Row(
                host,
                "thrift",
                "answers" if error is None else f"{NOT_ANSWERING} ({error})",
                not error,
            )
        )
    return component


# ---- Storm ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StormReading:
    nimbus_leader: str | None  # short name of the nimbus that leads
    nimbuses: frozenset[str] = frozenset()  # short names nimbus lists
    supervisors: frozenset[str] = frozenset()
    topologies: Mapping[str, str] = field(default_factory=dict)  # name → status
    error: str = ""


def storm_component(
    nimbuses: Sequence[str], supervisors: Sequence[str], reading: StormReading, topology: str
) -> Component:
    component = Component("storm")
    if reading.error:
        component.problems.append(f"no nimbus answered ({brief(reading.error)})")
        component.rows += [Row(h, "nimbus", NOT_ANSWERING, False) for h in nimbuses]
        return component
    for host in nimbuses:
        name = short_name(host)
        if name == reading.nimbus_leader:
            component.rows.append(Row(host, "nimbus", "leader"))
        elif name in reading.nimbuses:
            component.rows.append(Row(host, "nimbus", "not leader"))
        else:
            component.rows.append(Row(host, "nimbus", "not listed", healthy=False))
    if reading.nimbus_leader is None:
        component.problems.append("no leading nimbus")
    for host in supervisors:
        listed = short_name(host) in reading.supervisors
        component.rows.append(Row(host, "supervisor", "listed" if listed else "missing", listed))
    status = reading.topologies.get(topology)
    component.rows.append(
        Row("-", f"topology {topology}", status or "not running", status == "ACTIVE")
    )
    return component


# ---- the pipeline -----------------------------------------------------------------------------


def histogram_quantile(quantile: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus's ``histogram_quantile`` on cumulative buckets (upper bound → count): linear
    within the bucket the rank falls in; the highest finite bound when it falls in ``+Inf``;
    None without observations."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = quantile * buckets[bounds[-1]]
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def histogram_buckets(
    exposition: str, metric: str, labels: Mapping[str, str]
) -> dict[float, float]:
    """A histogram's cumulative buckets from Prometheus text, for the series with ``labels``."""
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(exposition):
        if family.name != metric:
            continue
        for sample in family.samples:
            if sample.name != f"{metric}_bucket":
                continue
            if any(sample.labels.get(k) != v for k, v in labels.items()):
                continue
            bound = float(sample.labels["le"])
            buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return buckets


def summed_buckets(parts: Iterable[Mapping[float, float]]) -> dict[float, float]:
    """Several instances' buckets of one histogram, summed (as ``sum by (le)`` would)."""
    total: dict[float, float] = {}
    for part in parts:
        for bound, count in part.items():
            total[bound] = total.get(bound, 0.0) + count
    return total


def bucket_increase(
    later: Mapping[float, float], earlier: Mapping[float, float]
) -> dict[float, float] | None:
    """Observations between two scrapes of one instance's buckets (None when a count went down:
    the instance restarted in between)."""
    increase = {bound: count - earlier.get(bound, 0.0) for bound, count in later.items()}
    return None if any(count < 0 for count in increase.values()) else increase


@dataclass(frozen=True)
class RiskLatency:
    """/v1/score's p99 over every risk service: between the status's two scrapes (judged against
    the limit, like the RiskServiceSlow alert over its window) and since the services started
    (shown only: it holds every slow moment since a restart)."""

    window_s: float
    requests: int  # in the window
    p99_s: float | None  # over the window
    since_start_p99_s: float | None


@dataclass(frozen=True)
class PipelineLimits:
    dead_letter_ratio: float  # the DeadLetterRateHigh alert's threshold
    p99_latency_s: float  # the RiskServiceSlow alert's threshold
    max_lag: int  # records behind, summed over the partitions


def pipeline_component(
    health: Mapping[str, str | None],
    latency: RiskLatency,
    pipeline: Mapping[str, Any],
    limits: PipelineLimits,
) -> Component:
    """``health``: risk-service host → why /healthz is not 200 (None: it is); ``pipeline``: the
    node probe's ``lag`` and ``recent`` sections (each a dict, or {``error``})."""
    component = Component("pipeline")
    for host, error in health.items():
        shown = brief(error) if error else "200"
        component.rows.append(Row(host, "risk /healthz", shown, healthy=error is None))
    lag = pipeline.get("lag", {"error": "not read"})
    if lag.get("error"):
        component.rows.append(Row("-", "consumer lag", f"unknown ({brief(lag['error'])})", False))
    else:
        total = sum(int(v) for v in lag["partitions"].values())
        shown = f"{total:,} records behind over {len(lag['partitions'])} partitions"
        component.rows.append(Row("-", "consumer lag", shown, healthy=total <= limits.max_lag))
    recent = pipeline.get("recent", {"error": "not read"})
    if recent.get("error"):
        shown = f"unknown ({brief(recent['error'])})"
        component.rows.append(Row("-", "dead letters", shown, healthy=False))
    else:
        letters, applicants = int(recent["dead_letters"]), int(recent["applicants"])
        ratio = letters / applicants if applicants else 0.0
        judged = applicants >= DEAD_LETTER_MIN_APPLICANTS
        shown = (
            f"{letters:,} in the last {int(recent['window_s']) // 60} min for {applicants:,} "
            f"applicants published ({ratio:.1%}; limit {limits.dead_letter_ratio:.0%}"
            f"{'' if judged else ', too few applicants to judge'})"
        )
        healthy = not judged or ratio <= limits.dead_letter_ratio
        component.rows.append(Row("-", "dead letters", shown, healthy))
    component.rows.append(risk_latency_row(latency, limits.p99_latency_s))
    for host, error in pipeline.get("applicant_api", {}).items():
        shown = brief(error) if error else "200"
        component.rows.append(Row(host, "applicant API /healthz", shown, error is None))
    return component


def risk_latency_row(latency: RiskLatency, limit_s: float) -> Row:
    since_start = (
        f"{latency.since_start_p99_s * 1000:.0f} ms since the services started"
        if latency.since_start_p99_s is not None
        else "no request since the services started"
    )
    if not latency.requests or latency.p99_s is None:
        shown = f"no request in the last {latency.window_s:.0f} s; {since_start}"
        return Row("-", "risk p99 /v1/score", shown)
    judged = latency.requests >= LATENCY_MIN_REQUESTS
    shown = (
        f"{latency.p99_s * 1000:.0f} ms over the last {latency.window_s:.0f} s "
        f"({latency.requests:,} requests; limit {limit_s * 1000:.0f} ms"
        f"{'' if judged else ', too few requests to judge'}); {since_start}"
    )
    return Row("-", "risk p99 /v1/score", shown, healthy=not judged or latency.p99_s <= limit_s)


def alerts_component(answers: Mapping[str, list[dict[str, Any]] | None]) -> Component | None:
    """Alertmanager host → its active alerts (None: it does not answer); None when no
    Alertmanager answers at all (not deployed)."""
    if not any(alerts is not None for alerts in answers.values()):
        return None
    component = Component("alerts")
    for host, alerts in answers.items():
        if alerts is None:
            component.rows.append(Row(host, "alertmanager", NOT_ANSWERING, healthy=False))
            continue
        component.rows.append(Row(host, "alertmanager", f"{len(alerts)} firing"))
        for alert in alerts:
            labels = alert.get("labels", {})
            name = labels.get("alertname", "?")
            where = labels.get("instance") or labels.get("name") or labels.get("job") or "-"
            severity = labels.get("severity", "")
            component.rows.append(
                Row(str(where), f"alert {name}", f"firing {severity}".strip(), False)
            )
    return component
