"""The faults, each an injection, how long it is held, and its healing.

A fault names its victim by the layout's groups, never by a node name, so the same catalogue runs
on the ci layout (3 nodes, each master and worker) and on montana. The "victim worker" is a worker
that carries none of the single-instance services the load itself needs (MariaDB, the applicant
API, the producer), nor the only NameNode when HDFS has no standby.
"""

from __future__ import annotations

import base64
import inspect
import json
import re
import shlex
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from secrets import token_urlsafe
from typing import Any
from xml.etree import ElementTree

from lendstream import pki, secrets, zookeeper_words
from lendstream.chaos.alerts import Prometheus
from lendstream.chaos.cluster import (
    NODE_PYTHON,
    TLS_CA_FILE,
    ChaosCluster,
    ChaosError,
    role_constant,
    role_default,
)
from lendstream.chaos.load import SteadyLoad
from lendstream.storm import deployment
from lendstream.storm.nimbus import CONNECTION_ERRORS
from lendstream.vcluster import disks, lifecycle, network, nodes
from lendstream.vcluster.paths import layout_state_dir

# Sent to a node's python3 (lendstream need not be installed there).
ZOOKEEPER_WORDS_SOURCE = inspect.getsource(zookeeper_words)

Step = Callable[[ChaosCluster, dict[str, Any]], None]
RECOVERY_TIMEOUT_S = 300
# The topology's message timeout (topology/topologies/loan_risk.py) plus a margin: an outage longer
# than this makes Storm fail the tuples in flight, so the replays are exercised too.
BEYOND_MESSAGE_TIMEOUT_S = 135
PARTITION_S = 120
POWERED_OFF_S = 30
# Beyond `for: 1m` of KafkaBrokerDown and KafkaBrokerFenced plus a scrape and an evaluation (15 s
# each): they must fire (a killed broker is back within seconds, systemd restarting it, before).
BROKER_STOPPED_S = 100
# The same for the other conditions whose alerts have `for: 1m` (HBaseRegionServerDown,
# StormSupervisorDown, NoActiveResourceManager, NoActiveNameNode), and beyond `for: 2m` for
# ZooKeeperMemberNotServing and StormNimbusUnreachable.
DOWN_BEYOND_ONE_MINUTE_S = 100
DOWN_BEYOND_TWO_MINUTES_S = 160
# Beyond `for: 5m` (KafkaUnderReplicatedPartitions, DeadLetterRateHigh) plus the condition's own
# onset (a 5-minute rate must first cross its threshold), a scrape and an evaluation.
BEYOND_FIVE_MINUTES_S = 400
# The burst of malformed applicants beside the steady load: all malformed, at a fifth of the
# default steady rate, so dead letters are about a sixth of what is committed (threshold 5 %).
MALFORMED_BURST_RATE_PER_S = 5.0
MALFORMED_BURST_TIMEOUT_S = 120
HDFS_TOOL_TIMEOUT_S = 120
# Beyond CertificateExpiringSoon's `for: 10m` plus a scrape and an evaluation (15 s each) and the
# check's own run; the certificate expires within the rule's 30 days.
BEYOND_TEN_MINUTES_S = 645
EXPIRING_CERTIFICATE_DAYS = 5
# Beyond `for: 5m` of ConsumerLagGrowing plus the lag's own onset: it must first pass the rule's
# floor (prometheus_alert_consumer_lag_min_records, 1,000 records: 40 s at 25 applicants/s).
LAG_BEYOND_FIVE_MINUTES_S = 460
# Beyond StormSupervisorMissing's `for: 2m` plus nimbus's supervisor timeout (60 s), which must
# pass before nimbus stops listing a node that died.
NODE_DOWN_BEYOND_SUPERVISOR_TIMEOUT_S = 240
# The risk services frozen (SIGSTOP) for RISK_FROZEN_S of every RISK_FREEZE_PERIOD_S, as a node
# whose CPU is stolen or a process in long pauses: requests that arrive in a pause take up to the
# pause. Held beyond PipelineLatencyHigh's `for: 10m` plus its onset and an evaluation.
RISK_FROZEN_S = 2.0
RISK_FREEZE_PERIOD_S = 2.5
BEYOND_TEN_MINUTES_AND_ONSET_S = 720
# A small data disk added to the victim and written full (docs/vcluster.md: the nodes' own root
# is an overlay, which the node exporter leaves out).
EXTRA_DISK_MOUNTPOINT = "/var/lib/lendstream-extra-disk"
EXTRA_DISK_MIB = 64
# A second data directory the DataNode cannot write: outside its unit's ReadWritePaths, so
# read-only to it (ProtectSystem=strict), as a disk whose file system went read-only after errors.
UNWRITABLE_VOLUME = "/var/lib/lendstream-chaos-volume"
DATANODE_UNIT = "lendstream-hdfs-datanode"
# HDFSDataNodeVolumeFailed's for: 1m, after the DataNode's restart and a scrape.
VOLUME_FAILED_S = 180
# A bad model pushed to every risk service (lendstream.chaos.bad_model, run on each node as a
# script): held beyond RiskServiceErrors' `for: 5m` plus its onset (the 5xx series must be scraped
# twice, 15 s apart, before it has a rate) and the push itself (the artifact written and a
# graceful reload on each node).
BAD_MODEL_HELD_S = 420
BAD_MODEL_SCRIPT = Path(__file__).with_name("bad_model.py")
BAD_MODEL_SUFFIX = "chaos-mismatched"
RISK_UNIT = "lendstream-risk-service"
# Where the fault puts the certificate, and the list that makes the node's certificate check (role
# node_exporter, tasks_from certificates) read it.
EXPIRING_CERTIFICATE = "/etc/lendstream/tls/chaos-expiring.crt"
EXPIRING_CERTIFICATE_LIST = "/etc/lendstream/certificates.d/chaos.list"
# Listed beside it: a file that is no certificate (a truncated copy, as a failed renewal leaves).
UNREADABLE_CERTIFICATE = "/etc/lendstream/tls/chaos-unreadable.crt"
CERTIFICATE_CHECK_UNIT = "lendstream-certificate-check.service"
# Role pki's certificate of the node, beside the CA's (TLS_CA_FILE).
NODE_CERTIFICATE = TLS_CA_FILE.rsplit("/", 1)[0] + "/node.crt"
# How long a topology kill may drain (Storm deactivates it first): short, a fault, not a deploy.
TOPOLOGY_KILL_WAIT_S = 1


def _nothing(_cluster: ChaosCluster, _state: dict[str, Any]) -> None:
    pass


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    inject: Step
    heal: Step = _nothing
    hold_s: float = 0.0
    # How long healing (and what follows the injection) usually takes: the load lasts that long.
    expected_heal_s: float = 30.0
    # The groups that need at least two hosts for the fault to make sense (a standby to fail
    # over to), e.g. ("hdfs_namenode", "NameNode").
    needs_standby: tuple[str, str] | None = None
    # The alerts (ansible/roles/prometheus/templates/rules) the fault should raise, each watched on
    # the monitoring node's Prometheus while it runs.
    alerts: tuple[str, ...] = ()
    # How much longer than a scrape and an evaluation its alerts may take to resolve after the
    # healing: the window of a rate in the rule (DeadLetterRateHigh's 5 minutes still hold the
    # fault's dead letters after it ends).
    alert_window_s: float = 0.0

    def reason_not_applicable(self, groups: dict[str, tuple[str, ...]]) -> str | None:
        """Why this layout cannot take the fault (e.g. one NameNode, no standby), or None."""
        if self.needs_standby is None:
            return None
        group, what = self.needs_standby
        if len(groups.get(group, ())) < 2:
            return f"one {what} on this layout, no standby to fail over to"
        return None


# ---- helpers ------------------------------------------------------------------------------------
def victim_worker(cluster: ChaosCluster) -> str:
    single = set(
        cluster.hosts("mysql") + cluster.hosts("applicant_api") + cluster.hosts("producer")
    )
    # ...nor what watches the fault: Prometheus and the Storm UI it reads nimbus through.
    single |= set(cluster.hosts("monitoring") + cluster.hosts("storm_ui"))
    if len(cluster.hosts("hdfs_namenode")) < 2:
        single |= set(cluster.hosts("hdfs_namenode"))
    workers = [h for h in cluster.hosts("storm_supervisor") if h not in single]
    if not workers:
        raise ChaosError("every worker carries a single-instance service: no victim to pick")
    return workers[0]


def _http_json(url: str, timeout_s: float = 5, context: ssl.SSLContext | None = None) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s, context=context) as answer:
        return json.load(answer)


def zookeeper_mode(cluster: ChaosCluster, host: str, timeout_s: float = 3) -> str | None:
    """The member's ``Mode:`` from its ``srvr`` answer (leader, follower, …); "not serving" when
    it answers without one (electing), None when it does not answer at all. Asked on the member
    itself as root, over mutual TLS with the node's certificate when its client port asks for it
    (the controller has no client certificate), else in plaintext."""
    port = role_default("zookeeper", "zookeeper_client_port")
    command = f"python3 -c {shlex.quote(ZOOKEEPER_WORDS_SOURCE)} srvr {port} {shlex.quote(host)}"
    try:
        output = cluster.sh(host, command, timeout_s=timeout_s + 12, check=False)
    except (ChaosError, OSError, subprocess.TimeoutExpired):
        return None
    for line in output.splitlines():
        name, _, answer = line.partition(" ")
        if name == host:
            text = json.loads(answer or "null")
            return None if text is None else (zookeeper_words.srvr_mode(text) or "not serving")
    return None


def zookeeper_leader(cluster: ChaosCluster) -> str:
    for host in cluster.hosts("zookeeper"):
        if zookeeper_mode(cluster, host) == "leader":
            return host
    raise ChaosError("no ZooKeeper member says it leads")


def nimbus_leader(cluster: ChaosCluster) -> str | None:
    ui_host = cluster.hosts("storm_ui")[0]
    url = f"http://{cluster.address(ui_host)}:{role_default('storm', 'storm_ui_port')}"
    try:
        summary = _http_json(url + "/api/v1/nimbus/summary")
    except OSError:
        return None
    for nimbus in summary.get("nimbuses", []):
        if nimbus.get("status") == "Leader":
            host = str(nimbus["host"]).split(".")[0]
            if host in cluster.hosts("storm_nimbus"):
                return host
    return None


def wait_until(what: str, check: Callable[[], bool], timeout_s: float = RECOVERY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(2)
    raise ChaosError(f"{what}: not after {timeout_s:.0f} s")


def wait_active(cluster: ChaosCluster, host: str, *units: str) -> None:
    for unit in units:
        wait_until(f"{host} {unit} active", partial(cluster.unit_active, host, unit))


def namenode_bean(cluster: ChaosCluster, host: str, name: str) -> dict[str, Any] | None:
    """The NameNode MBean ``Hadoop:service=NameNode,name=NAME`` from the host's ``/jmx``; None
    when the NameNode does not answer or has no such bean."""
    url = cluster.hadoop_web_url(host, "namenode", f"/jmx?qry=Hadoop:service=NameNode,name={name}")
    try:
        beans = _http_json(url, context=cluster.tls_context())["beans"]
    except (OSError, ValueError, KeyError):
        return None
    return dict(beans[0]) if beans else None


def hdfs_active_namenode(cluster: ChaosCluster) -> str | None:
    for host in cluster.hosts("hdfs_namenode"):
        bean = namenode_bean(cluster, host, "NameNodeStatus")
        if bean and bean.get("State") == "active":
            return host
    return None


def hdfs_fs_state(cluster: ChaosCluster, host: str) -> str | None:
    """The NameNode's ``FSState`` (``safeMode`` or ``Operational``); None when it does not
    answer."""
    bean = namenode_bean(cluster, host, "FSNamesystemState")
    return str(bean.get("FSState")) if bean else None


def hdfs_serving_namenode(cluster: ChaosCluster) -> str | None:
    """The active NameNode when it is out of safe mode (what NoActiveNameNode asks), else None."""
    active = hdfs_active_namenode(cluster)
    return active if active and hdfs_fs_state(cluster, active) == "Operational" else None


def hdfs_dfsadmin(cluster: ChaosCluster, namenode: str, *arguments: str) -> str:
    """``hdfs dfsadmin -fs hdfs://NAMENODE:PORT ARGUMENTS`` on the NameNode's node, as the hdfs
    user with its HDFS configuration (a short-lived JVM started like the role's haadmin); the
    explicit -fs addresses that NameNode alone, not every NameNode of the nameservice."""
    conf_dir = role_default("hdfs", "hdfs_conf_dir")
    rpc_port = role_default("hdfs", "hdfs_namenode_rpc_port")
    argv = [
        *("runuser", "-u", role_default("hdfs", "hdfs_user"), "--"),
        f"{role_default('hdfs', 'hdfs_java_home')}/bin/java",
        *role_constant("hdfs", "__hdfs_tool_jvm_flags"),
        f"-Dlog4j.configuration=file:{conf_dir}/log4j.properties",
        *role_constant("hdfs", "__hdfs_java_options"),
        *("-cp", f"{conf_dir}:{role_default('hdfs', 'hdfs_bundle_dir')}/lib/*"),
        "org.apache.hadoop.hdfs.tools.DFSAdmin",
        *("-fs", f"hdfs://{namenode}:{rpc_port}"),
        *arguments,
    ]
    return cluster.sh(namenode, shlex.join(argv), timeout_s=HDFS_TOOL_TIMEOUT_S)


def yarn_active_resourcemanager(cluster: ChaosCluster) -> str | None:
    for host in cluster.hosts("yarn_resourcemanager"):
        url = cluster.hadoop_web_url(host, "resourcemanager", "/ws/v1/cluster/info")
        try:
            info = _http_json(url, context=cluster.tls_context())
        except (OSError, ValueError):
            continue
        if info.get("clusterInfo", {}).get("haState") == "ACTIVE":
            return host
    return None


# ---- the faults ---------------------------------------------------------------------------------
def _kill_broker(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    state["host"] = host = victim_worker(cluster)
    cluster.kill_unit(host, "lendstream-kafka")


def _broker_back(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    wait_active(cluster, state["host"], "lendstream-kafka")
    cluster.wait_port(state["host"], role_default("kafka", "kafka_broker_port"), RECOVERY_TIMEOUT_S)


def _stop_broker(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    state["host"] = host = victim_worker(cluster)
    cluster.systemctl(host, "stop", "lendstream-kafka")


def _start_broker(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    cluster.systemctl(state["host"], "start", "lendstream-kafka")
    _broker_back(cluster, state)


# A topic of one partition with one replica, on the broker the fault stops: every pipeline
# topic has a replica on each broker of ci, so only such a topic can go offline with one broker.
OFFLINE_PROBE_TOPIC = "lendstream-chaos-one-replica"


def kafka_topics(cluster: ChaosCluster, host: str, *arguments: str) -> str:
    """Kafka's topic tool on a broker node, as the kafka role runs it (its admin client
    configuration when the cluster is secured)."""
    conf_dir = role_default("kafka", "kafka_conf_dir")
    argv = [
        role_default("kafka", "kafka_java_binary"),
        *role_constant("kafka", "__kafka_tool_java_options"),
        *("-cp", f"{role_default('kafka', 'kafka_bundle_dir')}/lib/*"),
        role_constant("kafka", "__kafka_tool_classes")["topics"],
        *("--bootstrap-server", f"{host}:{role_default('kafka', 'kafka_broker_port')}"),
        *arguments,
    ]
    if cluster.tls:
        argv += ["--command-config", f"{conf_dir}/client/admin.properties"]
    return cluster.sh(host, shlex.join(argv), timeout_s=180)


def _take_a_partition_offline(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """OFFLINE_PROBE_TOPIC made with its one replica on the victim broker, then that broker
    stopped: the partition has no leader left."""
    host = victim_worker(cluster)
    other = next(h for h in cluster.hosts("kafka_broker") if h != host)
    conf_dir = role_default("kafka", "kafka_conf_dir")
    node_id = cluster.sh(host, f"sed -n 's/^node.id=//p' {conf_dir}/server.properties").strip()
    kafka_topics(
        cluster,
        other,
        *("--create", "--if-not-exists", "--topic", OFFLINE_PROBE_TOPIC),
        *("--replica-assignment", node_id),
    )
    state["probe topic on node.id"] = node_id
    _stop_broker(cluster, state)


def _bring_the_partition_back(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    _start_broker(cluster, state)
    kafka_topics(cluster, state["host"], "--delete", "--if-exists", "--topic", OFFLINE_PROBE_TOPIC)


def _kill_regionserver(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """The victim's save bolt writes through its own node's Thrift server only (loopback): its
    batches fail and are replayed (backing off up to 10 s) until systemd has restarted it."""
    state["host"] = host = victim_worker(cluster)
    cluster.kill_unit(host, "lendstream-hbase-regionserver")
    cluster.kill_unit(host, "lendstream-hbase-thrift")


def _regionserver_back(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    host = state["host"]
    wait_active(cluster, host, "lendstream-hbase-regionserver", "lendstream-hbase-thrift")
    cluster.wait_local_port(host, role_default("hbase", "hbase_thrift_port"), RECOVERY_TIMEOUT_S)


def _stop_regionserver(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """The victim's save bolt has no Thrift server for the hold: its batches are replayed
    (backing off up to 10 s) until the healing starts it again."""
    state["host"] = host = victim_worker(cluster)
    cluster.systemctl(host, "stop", "lendstream-hbase-thrift")
    cluster.systemctl(host, "stop", "lendstream-hbase-regionserver")


def _start_regionserver(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    cluster.systemctl(state["host"], "start", "lendstream-hbase-regionserver")
    cluster.systemctl(state["host"], "start", "lendstream-hbase-thrift")
    _regionserver_back(cluster, state)


def _stop_supervisor(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """The supervisor only: its workers run on (KillMode=process) and keep the topology going."""
    state["host"] = host = victim_worker(cluster)
    cluster.systemctl(host, "stop", "lendstream-storm-supervisor")


def _start_supervisor(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    cluster.systemctl(state["host"], "start", "lendstream-storm-supervisor")
    wait_active(cluster, state["host"], "lendstream-storm-supervisor")


def _stop_zookeeper_follower(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    leader = zookeeper_leader(cluster)
    state["host"] = host = next(h for h in cluster.hosts("zookeeper") if h != leader)
    cluster.systemctl(host, "stop", "lendstream-zookeeper")


def _start_zookeeper_member(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    cluster.systemctl(state["host"], "start", "lendstream-zookeeper")
    wait_until(
        f"{state['host']} serving again",
        lambda: zookeeper_mode(cluster, state["host"]) in {"leader", "follower"},
    )


def _stop_every_nimbus(cluster: ChaosCluster, _state: dict[str, Any]) -> None:
    """Every nimbus: the running topology's workers go on without one."""
    for host in cluster.hosts("storm_nimbus"):
        cluster.systemctl(host, "stop", "lendstream-storm-nimbus")


def _start_every_nimbus(cluster: ChaosCluster, _state: dict[str, Any]) -> None:
    for host in cluster.hosts("storm_nimbus"):
        cluster.systemctl(host, "start", "lendstream-storm-nimbus")
    wait_until("a nimbus leader again", lambda: nimbus_leader(cluster) is not None)


def _stop_zookeeper_leader(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    state["host"] = host = zookeeper_leader(cluster)
    cluster.systemctl(host, "stop", "lendstream-zookeeper")


def _start_zookeeper(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    cluster.systemctl(state["host"], "start", "lendstream-zookeeper")
    wait_until("a ZooKeeper leader", lambda: bool(zookeeper_leader(cluster)))


def _kill_nimbus_leader_and_redeploy(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    leader = nimbus_leader(cluster)
    if leader is None:
        raise ChaosError("no nimbus leads before the fault")
    state["host"] = leader
    cluster.kill_unit(leader, "lendstream-storm-nimbus")
    # The killed one comes back (systemd); another must lead first or meanwhile.
    wait_until("a nimbus leader again", lambda: nimbus_leader(cluster) is not None)
    state["new_leader"] = nimbus_leader(cluster)
    # A changed setting, so the deploy really replaces the running topology on the new leader.
    cluster.playbook(
        "playbooks/deploy-topology.yml",
        "-e",
        json.dumps({"topology_settings": {"spout_commit_interval_ms": 250}}),
    )


def _nimbus_back(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    wait_active(cluster, state["host"], "lendstream-storm-nimbus")


# Deletes the nimbus's own entry in Storm's registry (ephemeral, creator-only): ZooKeeper's CLI
# from the node's ZooKeeper bundle, signed in with Storm's digest credentials and, with TLS, the
# node's Storm keystore, as nimbus itself reaches ZooKeeper. $ZNODE: the znode's path.
STORM_CONF = f"{role_default('storm', 'storm_home_dir')}/conf"
REGISTRY_DELETE_SCRIPT = f"""set -eu
conf={STORM_CONF}
payload=$(sed -n 's/^storm.zookeeper.auth.payload: "\\(.*\\)"$/\\1/p' $conf/storm.yaml)
server=$(awk '/^storm.zookeeper.servers:/{{getline; gsub(/[ "]/, ""); sub(/^-/, ""); print}}' \\
  $conf/storm.yaml)
port=$(sed -n 's/^storm.zookeeper.port: *//p' $conf/storm.yaml)
lib=$(ls -d /opt/lendstream/zookeeper-*/lib | tail -n 1)
set --
if [ -f $conf/tls/keystore.pem ]; then
  set -- -Dzookeeper.client.secure=true \\
    -Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty \\
    -Dzookeeper.ssl.keyStore.location=$conf/tls/keystore.pem -Dzookeeper.ssl.keyStore.type=PEM \\
    -Dzookeeper.ssl.trustStore.location={role_default("storm", "storm_tls_ca_file")} \\
    -Dzookeeper.ssl.trustStore.type=PEM
fi
printf 'addauth digest %s\\ndelete %s\\nquit\\n' "$payload" "$ZNODE" |
  java "$@" -cp "$lib/*" org.apache.zookeeper.ZooKeeperMain -server "$server:$port" 2>&1
"""


def registry_check_restarts(cluster: ChaosCluster, host: str, since: str) -> list[str]:
    """The registry check's journal lines on ``host`` since ``since`` that say it restarted."""
    journal = cluster.sh(
        host,
        f"journalctl -u lendstream-storm-nimbus-registry.service --since '{since}' -o cat",
        check=False,
    )
    return [line for line in journal.splitlines() if line.startswith("restarted:")]


def _unregister_nimbus_leader(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """The leading nimbus loses its registry entry, as after two session expiries in a stall
    (docs/faults.md): getLeader fails everywhere until the registry check restarts it."""
    leader = nimbus_leader(cluster)
    if leader is None:
        raise ChaosError("no nimbus leads before the fault")
    state["host"] = leader
    state["since"] = cluster.sh(leader, "date '+%Y-%m-%d %H:%M:%S'").strip()
    znode = f"/storm/nimbuses/{leader}"  # named by storm.local.hostname alone
    output = cluster.sh(leader, f"ZNODE={shlex.quote(znode)}; {REGISTRY_DELETE_SCRIPT}")
    try:
        wait_until(f"{znode} gone", lambda: nimbus_leader(cluster) is None, timeout_s=20)
    except ChaosError as error:
        raise ChaosError(f"{error}: ZooKeeper's CLI said {output[-600:]}") from error
    state["deleted"] = znode


def _leader_registered_again(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """Back when the registry lists a leader again, through the registry check's restart."""
    wait_until("a registered nimbus leader again", lambda: nimbus_leader(cluster) is not None)
    restarts = registry_check_restarts(cluster, state["host"], state["since"])
    if not restarts:
        raise ChaosError(
            f"a leader is registered again, but the registry check on {state['host']} restarted"
            " nothing: the fault did not take, or something else healed it"
        )
    state["registry_check"] = restarts[-1]


def _kill_active_master(
    active_of: Callable[[ChaosCluster], str | None],
    what: str,
    unit: str,
    cluster: ChaosCluster,
    state: dict[str, Any],
) -> None:
    """kill -9 the active one of an HA pair (NameNode, ResourceManager); the standby takes over."""
    active = active_of(cluster)
    if active is None:
        raise ChaosError(f"no active {what} before the fault")
    state["host"] = active
    cluster.kill_unit(active, unit)
    wait_until(
        f"another {what} active",
        lambda: active_of(cluster) not in {None, active},
        timeout_s=180,
    )


def _master_back_and_yarn_job(unit: str, cluster: ChaosCluster, state: dict[str, Any]) -> None:
    wait_active(cluster, state["host"], unit)
    cluster.playbook("playbooks/yarn-smoke.yml")


def _stop_every_resourcemanager(cluster: ChaosCluster, _state: dict[str, Any]) -> None:
    """Every ResourceManager, the active one last (no needless failover on the way): YARN is not
    in the pipeline's data path, and no job runs under the load."""
    active = yarn_active_resourcemanager(cluster)
    hosts = cluster.hosts("yarn_resourcemanager")
    for host in sorted(hosts, key=lambda host: host == active):
        cluster.systemctl(host, "stop", "lendstream-yarn-resourcemanager")


def _start_every_resourcemanager(cluster: ChaosCluster, _state: dict[str, Any]) -> None:
    for host in cluster.hosts("yarn_resourcemanager"):
        cluster.systemctl(host, "start", "lendstream-yarn-resourcemanager")
    wait_until(
        "an active ResourceManager again",
        lambda: yarn_active_resourcemanager(cluster) is not None,
    )


def _enter_safe_mode(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """The active NameNode into safe mode (what it does by itself when its disk runs low): it
    stays active but refuses every change of the namespace (new files and blocks, deletes)."""
    active = hdfs_serving_namenode(cluster)
    if active is None:
        raise ChaosError("no active NameNode out of safe mode before the fault")
    state["host"] = active
    output = hdfs_dfsadmin(cluster, active, "-safemode", "enter")
    if "Safe mode is ON" not in output:
        raise ChaosError(f"{active}: dfsadmin -safemode enter answered {output!r}")


def _leave_safe_mode(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    if "host" in state:
        output = hdfs_dfsadmin(cluster, state["host"], "-safemode", "leave")
        if "Safe mode is OFF" not in output:
            raise ChaosError(f"{state['host']}: dfsadmin -safemode leave answered {output!r}")
    wait_until(
        "an active NameNode out of safe mode",
        lambda: hdfs_serving_namenode(cluster) is not None,
    )


def _restart_mariadb(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    state["host"] = host = cluster.hosts("mysql")[0]
    cluster.systemctl(host, "restart", "lendstream-mysql")


def _stop_risk_services(cluster: ChaosCluster, _state: dict[str, Any]) -> None:
    for host in cluster.hosts("risk_service"):
        cluster.systemctl(host, "stop", RISK_UNIT)


def _start_risk_services(cluster: ChaosCluster, _state: dict[str, Any]) -> None:
    port = role_default("risk_service", "risk_service_port")
    for host in cluster.hosts("risk_service"):
        cluster.systemctl(host, "start", RISK_UNIT)
    for host in cluster.hosts("risk_service"):
        cluster.wait_port(host, port, RECOVERY_TIMEOUT_S)


def _power_off(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    state["host"] = host = victim_worker(cluster)
    nodes.power_off_hard(cluster.layout, cluster.node(host))


def _boot(cluster: ChaosCluster, _state: dict[str, Any]) -> None:
    lifecycle.up(cluster.layout)  # boots the node that is down, waits for sshd and systemd


def _partition(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    state["host"] = host = victim_worker(cluster)
    network.detach_from_bridge(nodes.veth_name(cluster.layout, cluster.node(host)))


def _heal_partition(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    link = nodes.veth_name(cluster.layout, cluster.node(state["host"]))
    network.attach_to_bridge(link, network.bridge_name(cluster.layout))


def scoring_requests(cluster: ChaosCluster, status: str) -> int:
    """Scoring requests the risk services have answered with a status ``status`` (a regular
    expression: ``40[13]``, ``5\\d\\d``) matches, read from their /metrics."""
    port = role_default("risk_service", "risk_service_port")
    pattern = re.compile(
        rf'^lendstream_risk_requests_total\{{route="/v1/score",status="{status}"\}} (\S+)$', re.M
    )
    total = 0.0
    context = cluster.tls_context()
    for host in cluster.hosts("risk_service"):
        url = f"{cluster.http_scheme}://{cluster.address(host)}:{port}/metrics"
        with urllib.request.urlopen(url, timeout=10, context=context) as answer:
            total += sum(float(v) for v in pattern.findall(answer.read().decode()))
    return int(total)


def refused_requests(cluster: ChaosCluster) -> int:
    """Scoring requests the risk services have refused with 401 or 403."""
    return scoring_requests(cluster, "40[13]")


def failed_scoring_requests(cluster: ChaosCluster) -> int:
    """Scoring requests the risk services have answered with a 5xx."""
    return scoring_requests(cluster, r"5\d\d")


def _rotate_token(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    inventory_dir = layout_state_dir(cluster.layout.name)
    name = "vault_risk_service_token"
    refused_before = refused_requests(cluster)
    secrets.begin_rotation(inventory_dir, cluster.vault_password_file, name)
    cluster.playbook("playbooks/rotate-risk-token.yml")
    secrets.finish_rotation(inventory_dir, cluster.vault_password_file, name)
    state["refused_requests"] = refused = refused_requests(cluster) - refused_before
    if refused:
        raise ChaosError(f"{refused} scoring requests were refused during the rotation")


def _metric_sum(cluster: ChaosCluster, host: str, url: str, pattern: re.Pattern[str]) -> float:
    """The sum of ``pattern``'s values in the /metrics at ``url``, read on ``host`` (these ports
    are open to cluster members only), verifying HTTPS against the deployment CA."""
    script = (
        "import ssl, sys, urllib.request as u; "
        f"c = ssl.create_default_context(cafile={TLS_CA_FILE!r}); "
        "sys.stdout.write(u.urlopen(sys.argv[1], timeout=10, context=c).read().decode())"
    )
    text = cluster.sh(host, f"{NODE_PYTHON} -c {shlex.quote(script)} {shlex.quote(url)}")
    return sum(float(value) for value in pattern.findall(text))


def failed_api_requests(cluster: ChaosCluster) -> int:
    """Requests the applicant API answered with a 5xx (503: its database refused or failed), and
    pages the producer could not get from it (their /metrics)."""
    api_port = role_default("applicant_api", "applicant_api_port")
    producer_port = role_default("producer", "producer_metrics_port")
    api = re.compile(r'^lendstream_api_requests_total\{[^}]*status="5\d\d"[^}]*\} (\S+)$', re.M)
    polls = re.compile(r'^lendstream_producer_api_polls_total\{outcome="error"\} (\S+)$', re.M)
    total = 0.0
    for host in cluster.hosts("applicant_api"):
        url = f"{cluster.http_scheme}://{host}:{api_port}/metrics"
        total += _metric_sum(cluster, host, url, api)
    for host in cluster.hosts("producer"):
        total += _metric_sum(cluster, host, f"http://{host}:{producer_port}/metrics", polls)
    return int(total)


def mariadb_access_denied(cluster: ChaosCluster) -> int:
    """MariaDB's count of refused sign-ins since it started (Access_denied_errors)."""
    conf_dir = role_default("mysql", "mysql_conf_dir")
    query = "SHOW GLOBAL STATUS LIKE 'Access_denied_errors'"
    total = 0
    for host in cluster.hosts("mysql"):
        out = cluster.sh(
            host,
            f"mariadb --defaults-file={conf_dir}/my.cnf --user=root -N -e {shlex.quote(query)}",
        )
        total += int(out.split()[-1])
    return total


def kafka_failed_authentications(cluster: ChaosCluster, since: float) -> int:
    """Sign-ins the brokers refused since ``since`` (Unix time): their log's "Failed
    authentication" lines (Kafka's Selector, INFO)."""
    total = 0
    for host in cluster.hosts("kafka_broker"):
        out = cluster.sh(
            host,
            f"journalctl -u lendstream-kafka --since @{int(since)} --no-pager -o cat"
            " | grep -cE 'Failed (re-)?authentication with' || true",
        )
        total += int(out.strip() or 0)
    return total


def _rotate_kafka_passwords(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """make rotate-kafka-passwords: every client moves to its other SCRAM user, the old retired.
    Then every broker restarts once more, one at a time (restart-kafka.yml): before session 27 a
    broker restarted after a rotation refused every user (Kafka 4.4.0 mis-read the retirement's
    deletions, docs/security.md, "A restarted broker that refuses users: the cause"). The role's
    restart sets again any user a restarted broker refuses: it must find none, and every current
    user must then sign in on every broker."""
    inventory_dir = layout_state_dir(cluster.layout.name)
    since = time.time()
    producer_restarts = {
        host: cluster.unit_restarts(host, "lendstream-producer")
        for host in cluster.hosts("producer")
    }
    secrets.begin_rotation(inventory_dir, cluster.vault_password_file, "kafka")
    cluster.playbook("playbooks/rotate-kafka-passwords.yml")
    secrets.finish_rotation(inventory_dir, cluster.vault_password_file, "kafka")
    state["slot"] = cluster.vault().get(secrets.KAFKA_USER_SLOT_NAME, "a")
    state["failed_authentications"] = refused = kafka_failed_authentications(cluster, since)
    state["producer_failures"] = failures = sum(
        cluster.unit_restarts(host, "lendstream-producer") - before
        for host, before in producer_restarts.items()
    )
    if refused or failures:
        raise ChaosError(
            f"{refused} Kafka sign-ins refused, {failures} producer failures during the rotation"
        )
    # The role prints each user it set again with the brokers that refused it; the sign-ins
    # refused meanwhile (the clients' and the role's own checks) are counted apart from the
    # rotation's.
    restart_began = time.time()
    restarted = cluster.playbook("playbooks/restart-kafka.yml")
    state["users_set_again_after_restart"] = set_again = restarted.count("refused by ")
    state["refused_while_restarting"] = kafka_failed_authentications(cluster, restart_began)
    state["sign_in_refusals"] = refusals = cluster.kafka_sign_in_refusals()
    if refusals or set_again:
        raise ChaosError(
            f"after the brokers' restart, {set_again} users were refused and set again;"
            f" refused now: {refusals}"
        )


def _refuse_the_producer(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """The brokers refuse the producer's password from now on (set to one no client has, behind
    the role's back, as a broker that lost its users refuses them: docs/security.md), and the
    producer restarts: each sign-in it tries is refused and it publishes nothing (systemd starts
    it again every few seconds); the applicants wait in MariaDB behind its cursor."""
    state["host"] = host = cluster.hosts("producer")[0]
    state["user"] = cluster.set_kafka_password("vault_kafka_producer_password", token_urlsafe(24))
    state["since"] = time.time()
    cluster.systemctl(host, "restart", "lendstream-producer")


def _repair_kafka_access(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """make kafka-access: the role tries every user on every broker and sets the refused one
    again from the Vault; the producer's next sign-in is accepted. Every user must then sign in
    on every broker."""
    since = state.pop("since", time.time())  # absent when the injection failed early
    state["refused_before_repair"] = kafka_failed_authentications(cluster, since)
    repaired = cluster.playbook("playbooks/kafka-access.yml")
    state["users_set_again"] = set_again = repaired.count("refused by ")
    if set_again != 1:
        raise ChaosError(f"make kafka-access set {set_again} users again, expected 1")
    state["sign_in_refusals"] = refusals = cluster.kafka_sign_in_refusals()
    if refusals:
        raise ChaosError(f"after make kafka-access, users refused: {refusals}")
    wait_active(cluster, state["host"], "lendstream-producer")


def _rotate_mysql_passwords(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """make rotate-mysql-passwords: both passwords accepted while the clients switch."""
    inventory_dir = layout_state_dir(cluster.layout.name)
    denied_before = mariadb_access_denied(cluster)
    failed_before = failed_api_requests(cluster)
    secrets.begin_rotation(inventory_dir, cluster.vault_password_file, "mysql")
    cluster.playbook("playbooks/rotate-mysql-passwords.yml")
    secrets.finish_rotation(inventory_dir, cluster.vault_password_file, "mysql")
    state["access_denied"] = denied = mariadb_access_denied(cluster) - denied_before
    state["failed_requests"] = failed = failed_api_requests(cluster) - failed_before
    if denied or failed:
        raise ChaosError(f"{denied} MariaDB sign-ins refused, {failed} failed API requests")


def _served_certificates_script() -> str:
    """Python run on a node: the certificate (PEM) each `host:port` argument serves, as JSON
    (null where the handshake failed). Verified against nothing: it only reads what is served."""
    return (
        "import json, ssl, sys\n"
        "served = {}\n"
        "for target in sys.argv[1:]:\n"
        "    host, port = target.rsplit(':', 1)\n"
        "    try:\n"
        "        served[target] = ssl.get_server_certificate((host, int(port)), timeout=10)\n"
        "    except OSError:\n"
        "        served[target] = None\n"
        "print(json.dumps(served))\n"
    )


def tls_endpoints(cluster: ChaosCluster) -> dict[str, list[str]]:
    """Per node, the `address:port` of each TLS service that serves the node's certificate and
    answers a plain TLS handshake: the applicant API, the risk service and the Kafka broker
    listener (SASL after TLS). ZooKeeper's quorum and KRaft's controller listener ask for a
    client certificate, MariaDB starts TLS inside its protocol: not read this way."""
    ports = {
        "applicant_api": role_default("applicant_api", "applicant_api_port"),
        "risk_service": role_default("risk_service", "risk_service_port"),
        "kafka_broker": role_default("kafka", "kafka_broker_port"),
    }
    return {
        host: [
            f"{cluster.address(host)}:{port}"
            for group, port in ports.items()
            if host in cluster.hosts(group)
        ]
        for host in cluster.node_names
    }


def certificate_serials(cluster: ChaosCluster) -> dict[str, dict[str, int | None]]:
    """Per node, the serial number of its host certificate (role pki's node.crt) under "file",
    and of the certificate each of its TLS services serves (tls_endpoints) under its address."""
    script = _served_certificates_script()
    serials: dict[str, dict[str, int | None]] = {}
    for host, endpoints in tls_endpoints(cluster).items():
        node_cert = cluster.sh(host, f"cat {NODE_CERTIFICATE}")
        found: dict[str, int | None] = {"file": pki.load_certificate(node_cert).serial_number}
        # Only where a service serves it (a montana master may have no lendstream virtualenv).
        served = (
            json.loads(
                cluster.sh(
                    host,
                    f"{NODE_PYTHON} -c {shlex.quote(script)} {shlex.join(endpoints)}",
                    timeout_s=120,
                )
            )
            if endpoints
            else {}
        )
        for endpoint in endpoints:
            pem = served.get(endpoint)
            found[endpoint] = None if pem is None else pki.load_certificate(pem).serial_number
        serials[host] = found
    return serials


def unrotated(
    before: dict[str, dict[str, int | None]], after: dict[str, dict[str, int | None]]
) -> list[str]:
    """What a rotation left alone or broke: each node whose certificate kept its serial, and each
    service that serves another certificate than its node's new one (or none)."""
    problems = []
    for host, now in after.items():
        if now["file"] == before.get(host, {}).get("file"):
            problems.append(f"{host}: node.crt kept serial {now['file']:x}")
        problems += [
            f"{host}: {endpoint} serves {'nothing' if serial is None else f'serial {serial:x}'}"
            for endpoint, serial in now.items()
            if endpoint != "file" and serial != now["file"]
        ]
    return problems


def _rotate_certificates(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """make rotate-certificates: every node's certificate renewed from the same CA, one node at a
    time, each TLS service on it reloaded or restarted through its gate; nothing refused."""
    since = time.time()
    before = certificate_serials(cluster)
    failed_before = failed_api_requests(cluster)
    refused_before = refused_requests(cluster)
    producer_restarts = {
        host: cluster.unit_restarts(host, "lendstream-producer")
        for host in cluster.hosts("producer")
    }
    started = time.monotonic()
    cluster.playbook("playbooks/rotate-certificates.yml")
    state["rotation_s"] = round(time.monotonic() - started)
    after = certificate_serials(cluster)
    state["nodes_renewed"] = sum(
        1 for host, now in after.items() if now["file"] != before.get(host, {}).get("file")
    )
    state["failed_authentications"] = refused = kafka_failed_authentications(cluster, since)
    state["failed_requests"] = failed = failed_api_requests(cluster) - failed_before
    state["refused_scoring_requests"] = refused_scoring = refused_requests(cluster) - refused_before
    state["producer_failures"] = failures = sum(
        cluster.unit_restarts(host, "lendstream-producer") - count
        for host, count in producer_restarts.items()
    )
    problems = unrotated(before, after)
    if refused or failed or refused_scoring or failures:
        problems.append(
            f"{refused} Kafka sign-ins or TLS handshakes refused, {failed} failed API requests,"
            f" {refused_scoring} scoring requests refused, {failures} producer failures during"
            " the rotation"
        )
    if problems:
        raise ChaosError("; ".join(problems))


# A TLS rollout in phases (0 plaintext … 3 TLS only), one step per site.yml run: the HBase RPC
# and ZooKeeper client-port faults. Three steps forward at most, after one step back.
TLS_ROLLOUT_MAX_RUNS = 4


def _roll_tls_phases(
    cluster: ChaosCluster,
    state: dict[str, Any],
    *,
    what: str,
    tags: str,
    switch: str,
    read_phases: Callable[[ChaosCluster], dict[str, int]],
) -> None:
    """site.yml --tags ``tags`` until every host reads phase 3, one step per run; a cluster
    already there first steps back one phase (``switch``=false), so that every run of the fault
    rolls the hosts at least twice while applicants stream. The phases read after each run go to
    ``state["runs"]``."""
    phases = read_phases(cluster)
    state["runs"] = runs = [phases]
    if set(phases.values()) == {3}:
        cluster.playbook("site.yml", "--tags", tags, "-e", f"{switch}=false")
        runs.append(read_phases(cluster))
    while set(runs[-1].values()) != {3}:
        if len(runs) > TLS_ROLLOUT_MAX_RUNS:
            raise ChaosError(f"{what} did not reach phase 3: {runs}")
        cluster.playbook("site.yml", "--tags", tags)
        runs.append(read_phases(cluster))


# The hbase-site.xml lines that tell HBase's RPC TLS phases apart (the hbase role's vars/main.yml).
HBASE_TLS_SERVER = "<name>hbase.server.netty.tls.enabled</name><value>true</value>"
HBASE_TLS_PLAINTEXT = "<name>hbase.server.netty.tls.supportplaintext</name><value>true</value>"
HBASE_TLS_CLIENT = "<name>hbase.client.netty.tls.enabled</name><value>true</value>"


def hbase_rpc_tls_phases(cluster: ChaosCluster) -> dict[str, int]:
    """Each HBase host's RPC TLS phase, read from its hbase-site.xml (0 plaintext … 3 TLS only)."""
    hosts = dict.fromkeys(
        host
        for group in ("hbase_master", "hbase_backup_master", "hbase_regionserver", "hbase_thrift")
        for host in cluster.hosts(group)
    )
    phases = {}
    for host in hosts:
        site = cluster.sh(host, "cat /etc/lendstream/hbase/hbase-site.xml")
        phases[host] = (
            0
            if HBASE_TLS_SERVER not in site
            else 3
            if HBASE_TLS_PLAINTEXT not in site
            else 2
            if HBASE_TLS_CLIENT in site
            else 1
        )
    return phases


def _roll_hbase_rpc_tls(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """site.yml --tags hbase until every HBase host runs RPC TLS only (phase 3), one rolling
    restart per run (servers first accept TLS, then clients speak it, then servers refuse
    plaintext)."""
    if not cluster.tls:
        raise ChaosError("hbase-rpc-tls-rollout needs lendstream_tls on the layout")
    _roll_tls_phases(
        cluster,
        state,
        what="HBase RPC TLS",
        tags="hbase",
        switch="hbase_rpc_tls_enabled",
        read_phases=hbase_rpc_tls_phases,
    )


HDFS_ENCRYPTION_SETTING = "dfs.encrypt.data.transfer"


def hdfs_data_transfer_encryption(cluster: ChaosCluster) -> dict[str, bool | None]:
    """Whether each NameNode runs with encrypted data transfer: the value of its running
    configuration (its ``/conf`` servlet), None when it does not answer."""
    states: dict[str, bool | None] = {}
    context = cluster.tls_context()
    for host in cluster.hosts("hdfs_namenode"):
        request = urllib.request.Request(
            cluster.hadoop_web_url(host, "namenode", f"/conf?name={HDFS_ENCRYPTION_SETTING}"),
            headers={"Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as answer:
                states[host] = str(json.load(answer)["property"]["value"]).lower() == "true"
        except (OSError, ValueError, KeyError):
            states[host] = None
    return states


def _roll_hdfs_data_transfer_encryption(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """site.yml --tags hdfs with encrypted data transfer, which switches every NameNode and
    DataNode at once with HBase and YARN stopped (playbooks/restart-hdfs.yml); on a cluster
    that encrypts already, a run without it first, so that every run of the fault switches."""
    if not cluster.tls:
        raise ChaosError("hdfs-encryption-rollout needs lendstream_tls on the layout")
    state["runs"] = runs = [hdfs_data_transfer_encryption(cluster)]
    if set(runs[0].values()) == {True}:
        cluster.playbook(
            "site.yml", "--tags", "hdfs", "-e", "hdfs_data_transfer_encryption_enabled=false"
        )
        runs.append(hdfs_data_transfer_encryption(cluster))
    cluster.playbook("site.yml", "--tags", "hdfs")
    runs.append(hdfs_data_transfer_encryption(cluster))
    if set(runs[-1].values()) != {True}:
        raise ChaosError(f"the NameNodes do not encrypt data transfer: {runs}")


# ZooKeeper's client TLS phases (the zookeeper role's tasks/client_tls_read.yml): zoo.cfg tells
# 0, port unification (1 or 2, told apart by the phase file beside it) and 3.
ZOOKEEPER_CONF = "/etc/lendstream/zookeeper"
ZOOKEEPER_TLS_TAGS = "zookeeper,hdfs,yarn,hbase,storm"  # the ensemble and its JVM clients


def zookeeper_client_tls_phase(zoo_cfg: str, phase_file: str) -> int:
    """A member's client TLS phase from its zoo.cfg and phase file (0 plaintext … 3 TLS only)."""
    lines = [line.strip() for line in zoo_cfg.splitlines()]
    if any(line.startswith("secureClientPort=") for line in lines):
        return 3
    if "client.portUnification=true" not in lines:
        return 0
    noted = [line.strip() for line in phase_file.splitlines() if line.strip().isdigit()]
    return 2 if noted[-1:] == ["2"] else 1


def zookeeper_client_tls_phases(cluster: ChaosCluster) -> dict[str, int]:
    """Each ZooKeeper member's client TLS phase, read from its files."""
    return {
        host: zookeeper_client_tls_phase(
            cluster.sh(host, f"cat {ZOOKEEPER_CONF}/zoo.cfg"),
            cluster.sh(host, f"cat {ZOOKEEPER_CONF}/client-tls-phase", check=False),
        )
        for host in cluster.hosts("zookeeper")
    }


def _roll_zookeeper_client_tls(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """site.yml (ZooKeeper and its JVM clients' plays) until every member's client port is TLS
    only (phase 3), one step per run; stepping back is port unification again, the clients still
    on TLS, so the clients stay connected throughout."""
    if not cluster.tls:
        raise ChaosError("zookeeper-client-tls-rollout needs lendstream_tls on the layout")
    _roll_tls_phases(
        cluster,
        state,
        what="ZooKeeper client TLS",
        tags=ZOOKEEPER_TLS_TAGS,
        switch="zookeeper_client_tls_enabled",
        read_phases=zookeeper_client_tls_phases,
    )


def _install_expiring_certificate(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """A certificate signed by the deployment CA (the inventory's Vault), expiring in
    EXPIRING_CERTIFICATE_DAYS, and a file that does not parse as one (the certificate cut in
    half), both listed for the victim's certificate check, which runs at once."""
    vault = cluster.vault()
    ca = pki.Issued(cert_pem=vault[secrets.CA_CERT_NAME], key_pem=vault[secrets.CA_KEY_NAME])
    name = "chaos-expiring.lendstream.internal"
    short = pki.issue_host_certificate(
        ca, pki.HostNames(name, (name,)), days=EXPIRING_CERTIFICATE_DAYS
    )
    truncated = short.cert_pem[: len(short.cert_pem) // 2]
    host = state["victim"] = victim_worker(cluster)
    cluster.sh(
        host,
        f"umask 022 && printf %s {shlex.quote(short.cert_pem)} > {EXPIRING_CERTIFICATE}"
        f" && printf %s {shlex.quote(truncated)} > {UNREADABLE_CERTIFICATE}"
        f" && printf '%s\\n' {EXPIRING_CERTIFICATE} {UNREADABLE_CERTIFICATE}"
        f" > {EXPIRING_CERTIFICATE_LIST}"
        f" && systemctl start {CERTIFICATE_CHECK_UNIT}",
    )


def _remove_expiring_certificate(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    cluster.sh(
        state["victim"],
        f"rm -f {EXPIRING_CERTIFICATE_LIST} {EXPIRING_CERTIFICATE} {UNREADABLE_CERTIFICATE}"
        f" && systemctl start {CERTIFICATE_CHECK_UNIT}",
    )


def _fill_a_disk(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """An extra disk on the victim, written by root until nothing is left (dd stops at ENOSPC)."""
    host = state["host"] = victim_worker(cluster)
    try:
        disks.attach(cluster.layout, cluster.node(host), EXTRA_DISK_MOUNTPOINT, EXTRA_DISK_MIB)
    except disks.DiskError as failure:
        raise ChaosError(f"adding a disk to {host}: {failure}") from failure
    cluster.sh(
        host,
        f"dd if=/dev/zero of={EXTRA_DISK_MOUNTPOINT}/fill bs=1M count={EXTRA_DISK_MIB}"
        " status=none || true; sync",
    )
    state["disk"] = f"{EXTRA_DISK_MIB} MiB at {EXTRA_DISK_MOUNTPOINT}"


def _free_the_disk(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    try:
        disks.detach(cluster.layout, cluster.node(state["host"]), EXTRA_DISK_MOUNTPOINT)
    except disks.DiskError as failure:
        raise ChaosError(f"removing the disk of {state['host']}: {failure}") from failure


def with_an_unwritable_volume(hdfs_site: str, volume: str) -> str:
    """hdfs-site.xml with ``volume`` added to the DataNode's data directories and one failed volume
    tolerated (with none tolerated the DataNode would refuse to start)."""
    parser = ElementTree.XMLParser(target=ElementTree.TreeBuilder(insert_comments=True))
    configuration = ElementTree.fromstring(hdfs_site, parser=parser)
    values: dict[str, ElementTree.Element] = {}
    for prop in configuration.iter("property"):
        value = prop.find("value")
        if value is not None:
            values[prop.findtext("name", "").strip()] = value
    data_dirs = values.get("dfs.datanode.data.dir")
    current = (data_dirs.text or "").strip() if data_dirs is not None else ""
    if data_dirs is None or not current:
        raise ChaosError("hdfs-site.xml names no dfs.datanode.data.dir")
    data_dirs.text = f"{current},file://{volume}"
    tolerated = values.get("dfs.datanode.failed.volumes.tolerated")
    if tolerated is None:
        prop = ElementTree.SubElement(configuration, "property")
        ElementTree.SubElement(prop, "name").text = "dfs.datanode.failed.volumes.tolerated"
        tolerated = ElementTree.SubElement(prop, "value")
    tolerated.text = "1"
    prolog = hdfs_site[: max(hdfs_site.find("<configuration"), 0)]  # declaration, comments
    return prolog + ElementTree.tostring(configuration, encoding="unicode") + "\n"


def _hdfs_site() -> str:
    return f"{role_default('hdfs', 'hdfs_conf_dir')}/hdfs-site.xml"


def _fail_a_datanode_volume(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """A DataNode restarted with a second data directory it cannot write: its volume check fails
    it at start, and it serves on from its own volume (one failure tolerated)."""
    datanodes = cluster.hosts("hdfs_datanode")
    worker = victim_worker(cluster)
    host = state["host"] = worker if worker in datanodes else datanodes[-1]
    conf = _hdfs_site()
    changed = with_an_unwritable_volume(cluster.sh(host, f"cat {conf}"), UNWRITABLE_VOLUME)
    user = role_default("hdfs", "hdfs_user")
    encoded = base64.b64encode(changed.encode("utf-8")).decode("ascii")
    cluster.sh(
        host,
        f"cp -p {conf} {conf}.chaos"
        f' && install -d -o {user} -g "$(id -gn {user})" -m 0750 {UNWRITABLE_VOLUME}'
        f" && printf %s {encoded} | base64 -d > {conf}"
        f" && systemctl restart {DATANODE_UNIT}",
        timeout_s=180,
    )
    state["volume"] = f"{UNWRITABLE_VOLUME} (read-only to the DataNode)"


def _restore_the_datanode_volumes(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    host, conf = state["host"], _hdfs_site()
    cluster.sh(
        host,
        f"if [ -f {conf}.chaos ]; then mv {conf}.chaos {conf}; fi; rm -rf {UNWRITABLE_VOLUME}"
        f" && systemctl restart {DATANODE_UNIT}",
        timeout_s=180,
    )
    wait_active(cluster, host, DATANODE_UNIT)
    # Its ports take cluster members only (the firewall): asked on the node itself.
    port = role_default("hdfs", "hdfs_datanode_port")
    cluster.wait_local_port(host, port, RECOVERY_TIMEOUT_S, address=cluster.address(host))


def _risk_token_file() -> str:
    return f"{role_default('risk_service', 'risk_service_conf_dir')}/token"


def _refuse_the_clients_token(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """Every risk service accepts only a token no client has (a rotation half done: the services'
    token file replaced, the bolts' not), through the service's graceful reload."""
    token = _risk_token_file()
    stranger = token_urlsafe(32)
    for host in cluster.hosts("risk_service"):
        cluster.sh(
            host,
            f"cp -p {token} {token}.chaos && printf '%s\\n' {stranger} > {token}"
            f" && systemctl reload {RISK_UNIT}",
        )
    state["refused_before"] = refused_requests(cluster)


def _restore_the_token(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    token = _risk_token_file()
    for host in cluster.hosts("risk_service"):
        cluster.sh(host, f"mv {token}.chaos {token} && systemctl reload {RISK_UNIT}")
    state["refused"] = refused_requests(cluster) - state.pop("refused_before")


def on_each(hosts: Iterable[str], step: Callable[[str], None]) -> None:
    """``step`` on every host at once (threads; each mostly waits on SSH); every host is tried,
    then the first failure is raised."""
    hosts = list(hosts)
    if not hosts:
        return
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        futures = [pool.submit(step, host) for host in hosts]
    for future in futures:
        failure = future.exception()
        if failure is not None:
            raise failure


def _model_root() -> str:
    return str(role_default("risk_service", "risk_service_model_root"))


def push_bad_model_command(root: str, then: str) -> str:
    """Shell for a node: lendstream.chaos.bad_model run on ``root`` with the node's virtualenv
    (it prints {"good", "bad"} and points ``current`` at the bad artifact; its files readable by
    the service's user, as the rollout's are), then ``then``."""
    script = BAD_MODEL_SCRIPT.read_text(encoding="utf-8")
    arguments = f"{shlex.quote(root)} {BAD_MODEL_SUFFIX}"
    return f"umask 022 && {NODE_PYTHON} -c {shlex.quote(script)} {arguments} && {then}"


def restore_model_command(root: str, reload: str) -> str:
    """Shell for a node: when ``root/current`` names a bad push (``<good>-<suffix>``), point it
    back at ``<good>`` (atomically: a new link renamed over it) and run ``reload``; then remove
    every bad push under ``root``. A node without one is left as it is, so healing twice, or a
    node the injection never reached, is harmless."""
    return (
        f"cd {shlex.quote(root)} && current=$(readlink current) && case $current in"
        f' *-{BAD_MODEL_SUFFIX}) ln -sfn "${{current%-{BAD_MODEL_SUFFIX}}}" .current.chaos'
        f" && mv -Tf .current.chaos current && {{ {reload}; }};; esac"
        f" && rm -rf -- ./*-{BAD_MODEL_SUFFIX}"
    )


def _push_a_bad_model(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """On every risk-service node at once: a model that loads but cannot predict
    (lendstream.chaos.bad_model) written beside the serving one, `current` pointed at it, and the
    service's graceful reload (new workers load it, /healthz names it) — what a push past the
    rollout's gate would leave (playbooks/rollout-model.yml now scores a probe applicant after
    /healthz and stops at its first node, rolled back). One node alone would not do: a score
    task that gets a 5xx fails over to the next risk service and stays there
    (lendstream.pipeline.scoring), so that node gets almost no scoring request after the first
    few and has no error ratio to hold for 5 minutes."""
    state["failed_before"] = failed_scoring_requests(cluster)
    command = push_bad_model_command(_model_root(), f"systemctl reload {RISK_UNIT}")
    pushed: dict[str, str] = {}

    def push(host: str) -> None:
        out = cluster.sh(host, command, timeout_s=300)
        versions = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
        pushed[host] = f"{versions['bad']} for {versions['good']}"

    try:
        on_each(cluster.hosts("risk_service"), push)
    finally:
        state["model"] = "; ".join(f"{host}: {pushed[host]}" for host in sorted(pushed))


def _restore_the_model(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    reload = f"systemctl reload {RISK_UNIT} || systemctl restart {RISK_UNIT}"
    command = restore_model_command(_model_root(), reload)
    hosts = cluster.hosts("risk_service")

    def restore(host: str) -> None:
        cluster.sh(host, command, timeout_s=300)

    on_each(hosts, restore)
    port = role_default("risk_service", "risk_service_port")
    for host in hosts:
        cluster.wait_port(host, port, RECOVERY_TIMEOUT_S)
    if "failed_before" in state:
        state["failed_requests"] = failed_scoring_requests(cluster) - state.pop("failed_before")


FREEZER_UNIT = "lendstream-chaos-freezer"


def _freeze_risk_services_in_turn(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """On every risk-service node a transient unit (bounded by RuntimeMaxSec) stops the service's
    processes for RISK_FROZEN_S out of every RISK_FREEZE_PERIOD_S."""
    thawed_s = RISK_FREEZE_PERIOD_S - RISK_FROZEN_S
    loop = (
        f"while :; do systemctl kill --signal=SIGSTOP {RISK_UNIT};"
        f" sleep {RISK_FROZEN_S:g}; systemctl kill --signal=SIGCONT {RISK_UNIT};"
        f" sleep {thawed_s:g}; done"
    )
    bound_s = int(BEYOND_TEN_MINUTES_AND_ONSET_S + 120)
    for host in cluster.hosts("risk_service"):
        cluster.sh(
            host,
            f"systemd-run --quiet --unit={FREEZER_UNIT} --property=RuntimeMaxSec={bound_s}"
            f" bash -c {shlex.quote(loop)}",
        )
    state["frozen"] = f"{RISK_FROZEN_S:g} s of every {RISK_FREEZE_PERIOD_S:g} s"


def _thaw_risk_services(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    for host in cluster.hosts("risk_service"):
        cluster.sh(
            host,
            f"systemctl stop {FREEZER_UNIT}; systemctl reset-failed {FREEZER_UNIT};"
            f" systemctl kill --signal=SIGCONT {RISK_UNIT}",
            check=False,
        )
    _start_risk_services(cluster, state)


def prometheus_says(cluster: ChaosCluster, query: str) -> bool:
    """True when the monitoring node's Prometheus answers the query with a positive value."""
    value = Prometheus.of(cluster).value(query)
    return value is not None and value > 0


def wait_for_active_hbase_master(cluster: ChaosCluster) -> None:
    wait_until(
        "an active HBase master again",
        partial(prometheus_says, cluster, 'max(hbase_master_active{job="hbase_master"}) == 1'),
    )


def _stop_every_hbase_master(cluster: ChaosCluster, _state: dict[str, Any]) -> None:
    """Every HBase master, the backups first: the RegionServers serve (and write) their regions on
    without one; only region assignment and table changes wait."""
    for host in cluster.hosts("hbase_backup_master") + cluster.hosts("hbase_master"):
        cluster.systemctl(host, "stop", "lendstream-hbase-master")


def _start_every_hbase_master(cluster: ChaosCluster, _state: dict[str, Any]) -> None:
    for host in cluster.hosts("hbase_master") + cluster.hosts("hbase_backup_master"):
        cluster.systemctl(host, "start", "lendstream-hbase-master")
    wait_for_active_hbase_master(cluster)


def active_units(cluster: ChaosCluster, host: str) -> set[str]:
    """The lendstream-* services systemd has active on the node."""
    listing = cluster.sh(
        host,
        "systemctl list-units --type=service --state=active --plain --no-legend 'lendstream-*'",
    )
    return {line.split()[0] for line in listing.splitlines() if line.strip()}


def _stop_zookeeper_majority(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """A majority of the members, followers first (on ci both followers, the leader left running
    without a quorum, so no member serves).
    Every node's active lendstream services are noted first, so the healing can bring back any
    that a lost ZooKeeper session made exit."""
    members = cluster.hosts("zookeeper")
    every_host = sorted({host for hosts in cluster.groups.values() for host in hosts})
    state["units"] = {host: active_units(cluster, host) for host in every_host}
    leader = zookeeper_leader(cluster)
    stopped = sorted(members, key=lambda host: host == leader)[: len(members) // 2 + 1]
    state["stopped"] = stopped
    for host in stopped:
        cluster.systemctl(host, "stop", "lendstream-zookeeper")


def _start_zookeeper_majority(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    for host in state.get("stopped", ()):
        cluster.systemctl(host, "start", "lendstream-zookeeper")
    wait_until("a ZooKeeper leader", lambda: zookeeper_mode_any(cluster, "leader"))
    before: dict[str, set[str]] = state.pop("units", {})
    restarted = []
    for host, units in before.items():
        for unit in sorted(units - active_units(cluster, host)):
            cluster.systemctl(host, "restart", unit)
            restarted.append(f"{host}:{unit}")
    state["restarted"] = restarted or "none"
    for host, units in before.items():
        wait_active(cluster, host, *sorted(units))
    wait_until("a nimbus leader again", lambda: nimbus_leader(cluster) is not None)
    wait_for_active_hbase_master(cluster)
    wait_until("an active NameNode", lambda: hdfs_active_namenode(cluster) is not None)
    wait_until(
        "an active ResourceManager", lambda: yarn_active_resourcemanager(cluster) is not None
    )


def zookeeper_mode_any(cluster: ChaosCluster, mode: str) -> bool:
    return any(zookeeper_mode(cluster, host) == mode for host in cluster.hosts("zookeeper"))


def _stop_producer(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    state["host"] = host = cluster.hosts("producer")[0]
    cluster.systemctl(host, "stop", "lendstream-producer")


def _start_producer(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    cluster.systemctl(state["host"], "start", "lendstream-producer")
    wait_active(cluster, state["host"], "lendstream-producer")


def _start_malformed_burst(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """A second loader beside the steady load, every applicant malformed, for the fault's hold.
    Its seed is the injection's millisecond clock: member ids the run's own seeds never reach."""
    burst = SteadyLoad.start(
        cluster,
        seed=int(time.time() * 1000),
        count=int(MALFORMED_BURST_RATE_PER_S * BEYOND_FIVE_MINUTES_S),
        rate_per_s=MALFORMED_BURST_RATE_PER_S,
        malformed_rate=1.0,
    )
    state["burst"] = burst


def _end_malformed_burst(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    burst: SteadyLoad = state.pop("burst")
    burst.wait(cluster, timeout_s=MALFORMED_BURST_TIMEOUT_S)
    state["malformed burst"] = f"{burst.count} applicants at {burst.rate_per_s:g}/s"


def nimbus_address(cluster: ChaosCluster, host: str) -> str:
    return f"{cluster.address(host)}:{role_default('storm', 'storm_nimbus_thrift_port')}"


def _kill_topology(cluster: ChaosCluster, state: dict[str, Any]) -> None:
    """`storm kill` through the leading nimbus, drained TOPOLOGY_KILL_WAIT_S only: the tuples in
    flight are never acked, their offsets never committed, and the next topology reads them."""
    leader = nimbus_leader(cluster)
    if leader is None:
        raise ChaosError("no nimbus leads before the fault")
    state["host"] = leader
    try:
        killed = deployment.kill(nimbus_address(cluster, leader), wait_s=TOPOLOGY_KILL_WAIT_S)
    except (TimeoutError, *CONNECTION_ERRORS) as failure:
        raise ChaosError(f"killing the topology through {leader}: {failure}") from failure
    if not killed:
        raise ChaosError("the topology was not running before the fault")


def _redeploy_topology(cluster: ChaosCluster, _state: dict[str, Any]) -> None:
    cluster.playbook("playbooks/deploy-topology.yml")


CATALOGUE: tuple[Fault, ...] = (
    Fault(
        "kafka-broker-kill",
        "kill -9 one Kafka broker",
        _kill_broker,
        _broker_back,
        alerts=("KafkaBrokerDown",),
    ),
    Fault(
        "kafka-broker-stop",
        f"stop one Kafka broker for {BROKER_STOPPED_S} s (beyond its alert's window)",
        _stop_broker,
        _start_broker,
        hold_s=BROKER_STOPPED_S,
        alerts=("KafkaBrokerDown", "KafkaBrokerFenced"),
    ),
    Fault(
        "kafka-broker-long-stop",
        f"stop one Kafka broker for {BEYOND_FIVE_MINUTES_S} s (beyond every Kafka alert's window)",
        _stop_broker,
        _start_broker,
        hold_s=BEYOND_FIVE_MINUTES_S,
        alerts=(
            "KafkaBrokerDown",
            "KafkaBrokerFenced",
            "KafkaUnderReplicatedPartitions",
            "LendstreamUnitDown",
            "ScrapeTargetDown",
        ),
    ),
    Fault(
        "kafka-partition-offline",
        f"a one-replica probe topic on one Kafka broker, that broker stopped for"
        f" {BROKER_STOPPED_S} s",
        _take_a_partition_offline,
        _bring_the_partition_back,
        hold_s=BROKER_STOPPED_S,
        alerts=("KafkaOfflinePartitions", "KafkaBrokerDown"),
    ),
    Fault(
        "kafka-credentials-refused",
        f"the brokers refuse the producer's password for {DOWN_BEYOND_TWO_MINUTES_S} s, then"
        " make kafka-access sets it again",
        _refuse_the_producer,
        _repair_kafka_access,
        hold_s=DOWN_BEYOND_TWO_MINUTES_S,
        expected_heal_s=60,
        alerts=("KafkaSignInsRefused",),
        alert_window_s=60,
    ),
    Fault(
        "regionserver-kill",
        "kill -9 one RegionServer and its Thrift server",
        _kill_regionserver,
        _regionserver_back,
    ),
    Fault(
        "regionserver-stop",
        f"stop one RegionServer and its Thrift server for {DOWN_BEYOND_ONE_MINUTE_S} s",
        _stop_regionserver,
        _start_regionserver,
        hold_s=DOWN_BEYOND_ONE_MINUTE_S,
        alerts=("HBaseRegionServerDown", "HBaseDeadRegionServers"),
    ),
    Fault(
        "supervisor-stop",
        f"stop one Storm supervisor (not its workers) for {DOWN_BEYOND_ONE_MINUTE_S} s",
        _stop_supervisor,
        _start_supervisor,
        hold_s=DOWN_BEYOND_ONE_MINUTE_S,
        alerts=("StormSupervisorDown",),
    ),
    Fault(
        "zookeeper-follower-stop",
        f"stop a ZooKeeper follower for {DOWN_BEYOND_TWO_MINUTES_S} s",
        _stop_zookeeper_follower,
        _start_zookeeper_member,
        hold_s=DOWN_BEYOND_TWO_MINUTES_S,
        alerts=("ZooKeeperMemberNotServing",),
    ),
    Fault(
        "nimbus-all-stop",
        f"stop every nimbus for {DOWN_BEYOND_TWO_MINUTES_S} s (the topology runs on)",
        _stop_every_nimbus,
        _start_every_nimbus,
        hold_s=DOWN_BEYOND_TWO_MINUTES_S,
        expected_heal_s=60,
        alerts=("StormNimbusUnreachable",),
    ),
    Fault(
        "zookeeper-leader-stop",
        "stop the ZooKeeper leader for 20 s",
        _stop_zookeeper_leader,
        _start_zookeeper,
        hold_s=20,
    ),
    Fault(
        "nimbus-leader-kill",
        "kill -9 the leading nimbus, then deploy the topology through the new leader",
        _kill_nimbus_leader_and_redeploy,
        _nimbus_back,
        expected_heal_s=240,
    ),
    Fault(
        "namenode-failover",
        "kill -9 the active NameNode (failover), then a YARN job",
        partial(_kill_active_master, hdfs_active_namenode, "NameNode", "lendstream-hdfs-namenode"),
        partial(_master_back_and_yarn_job, "lendstream-hdfs-namenode"),
        expected_heal_s=120,
        needs_standby=("hdfs_namenode", "NameNode"),
    ),
    Fault(
        "resourcemanager-failover",
        "kill -9 the active ResourceManager (failover), then a YARN job",
        partial(
            _kill_active_master,
            yarn_active_resourcemanager,
            "ResourceManager",
            "lendstream-yarn-resourcemanager",
        ),
        partial(_master_back_and_yarn_job, "lendstream-yarn-resourcemanager"),
        expected_heal_s=120,
        needs_standby=("yarn_resourcemanager", "ResourceManager"),
    ),
    Fault(
        "resourcemanager-all-stop",
        f"stop every ResourceManager for {DOWN_BEYOND_ONE_MINUTE_S} s (YARN is off the data path)",
        _stop_every_resourcemanager,
        _start_every_resourcemanager,
        hold_s=DOWN_BEYOND_ONE_MINUTE_S,
        expected_heal_s=60,
        alerts=("NoActiveResourceManager",),
    ),
    Fault(
        "namenode-safemode",
        f"the active NameNode in safe mode for {DOWN_BEYOND_ONE_MINUTE_S} s (no namespace change)",
        _enter_safe_mode,
        _leave_safe_mode,
        hold_s=DOWN_BEYOND_ONE_MINUTE_S,
        alerts=("NoActiveNameNode",),
    ),
    Fault("mariadb-restart", "restart MariaDB under the producer", _restart_mariadb),
    Fault(
        "risk-services-down",
        f"every risk service down for {BEYOND_MESSAGE_TIMEOUT_S} s (beyond the message timeout)",
        _stop_risk_services,
        _start_risk_services,
        hold_s=BEYOND_MESSAGE_TIMEOUT_S,
        alerts=("RiskServiceAllDown",),
    ),
    Fault(
        "worker-power-off",
        f"power a worker node off hard for {POWERED_OFF_S} s, then boot it",
        _power_off,
        _boot,
        hold_s=POWERED_OFF_S,
        expected_heal_s=90,
        alerts=("NodeDown",),
    ),
    Fault(
        "network-partition",
        f"cut a worker node off the network for {PARTITION_S} s",
        _partition,
        _heal_partition,
        hold_s=PARTITION_S,
    ),
    Fault(
        "hbase-master-all-stop",
        f"stop every HBase master for {DOWN_BEYOND_ONE_MINUTE_S} s (the RegionServers serve on)",
        _stop_every_hbase_master,
        _start_every_hbase_master,
        hold_s=DOWN_BEYOND_ONE_MINUTE_S,
        expected_heal_s=60,
        alerts=("NoActiveHBaseMaster",),
    ),
    Fault(
        "zookeeper-quorum-loss",
        f"stop a majority of the ZooKeeper members for {DOWN_BEYOND_TWO_MINUTES_S} s",
        _stop_zookeeper_majority,
        _start_zookeeper_majority,
        hold_s=DOWN_BEYOND_TWO_MINUTES_S,
        expected_heal_s=90,
        alerts=(
            "ZooKeeperNoQuorum",
            "ZooKeeperMemberNotServing",
            "LendstreamUnitDown",
            "ScrapeTargetDown",
        ),
    ),
    Fault(
        "nimbus-registry-lost",
        "delete the leading nimbus's entry in Storm's registry (/storm/nimbuses); the"
        " registry check restarts it",
        _unregister_nimbus_leader,
        _leader_registered_again,
        expected_heal_s=150,
    ),
    Fault(
        "producer-stop",
        f"stop the producer for {DOWN_BEYOND_TWO_MINUTES_S} s (applicants wait in MariaDB)",
        _stop_producer,
        _start_producer,
        hold_s=DOWN_BEYOND_TWO_MINUTES_S,
        alerts=("LendstreamUnitDown", "ScrapeTargetDown"),
    ),
    Fault(
        "topology-kill",
        f"kill the topology through nimbus, {DOWN_BEYOND_TWO_MINUTES_S} s without it, redeploy",
        _kill_topology,
        _redeploy_topology,
        hold_s=DOWN_BEYOND_TWO_MINUTES_S,
        expected_heal_s=240,
        alerts=("StormTopologyNotRunning",),
    ),
    Fault(
        "malformed-burst",
        f"{MALFORMED_BURST_RATE_PER_S:g} malformed applicants/s beside the load for "
        f"{BEYOND_FIVE_MINUTES_S} s",
        _start_malformed_burst,
        _end_malformed_burst,
        hold_s=BEYOND_FIVE_MINUTES_S,
        alerts=("DeadLetterRateHigh",),
        alert_window_s=300,
    ),
    Fault(
        "certificate-expiring-and-unreadable",
        f"a certificate of the deployment CA expiring in {EXPIRING_CERTIFICATE_DAYS} days and a"
        f" file that is no certificate, listed for the victim's certificate check, for"
        f" {BEYOND_TEN_MINUTES_S} s",
        _install_expiring_certificate,
        _remove_expiring_certificate,
        hold_s=BEYOND_TEN_MINUTES_S,
        alerts=("CertificateExpiringSoon", "CertificateCheckFailing"),
    ),
    Fault(
        "worker-long-power-off",
        f"power a worker node off hard for {NODE_DOWN_BEYOND_SUPERVISOR_TIMEOUT_S} s, then boot it",
        _power_off,
        _boot,
        hold_s=NODE_DOWN_BEYOND_SUPERVISOR_TIMEOUT_S,
        expected_heal_s=150,
        alerts=(
            "NodeDown",
            "StormSupervisorDown",
            "StormSupervisorMissing",
            "KafkaBrokerDown",
            "HBaseRegionServerDown",
        ),
    ),
    Fault(
        "disk-full",
        f"a {EXTRA_DISK_MIB} MiB data disk on a worker written full for {BEYOND_FIVE_MINUTES_S} s",
        _fill_a_disk,
        _free_the_disk,
        hold_s=BEYOND_FIVE_MINUTES_S,
        alerts=("DiskAlmostFull",),
    ),
    Fault(
        "datanode-volume-failed",
        f"a DataNode restarted with a second data directory it cannot write, for"
        f" {VOLUME_FAILED_S} s",
        _fail_a_datanode_volume,
        _restore_the_datanode_volumes,
        hold_s=VOLUME_FAILED_S,
        expected_heal_s=60,
        alerts=("HDFSDataNodeVolumeFailed",),
    ),
    Fault(
        "topology-long-kill",
        f"kill the topology through nimbus, {LAG_BEYOND_FIVE_MINUTES_S} s without it, redeploy",
        _kill_topology,
        _redeploy_topology,
        hold_s=LAG_BEYOND_FIVE_MINUTES_S,
        expected_heal_s=300,
        alerts=("StormTopologyNotRunning", "ConsumerLagGrowing"),
        alert_window_s=120,
    ),
    Fault(
        "risk-token-refused",
        f"every risk service accepts only a token the bolts do not have, for"
        f" {BEYOND_FIVE_MINUTES_S} s",
        _refuse_the_clients_token,
        _restore_the_token,
        hold_s=BEYOND_FIVE_MINUTES_S,
        expected_heal_s=240,
        alerts=("RiskServiceRefusingClients",),
        alert_window_s=300,
    ),
    Fault(
        "risk-services-freezing",
        f"every risk service frozen {RISK_FROZEN_S:g} s of every {RISK_FREEZE_PERIOD_S:g} s for"
        f" {BEYOND_TEN_MINUTES_AND_ONSET_S} s",
        _freeze_risk_services_in_turn,
        _thaw_risk_services,
        hold_s=BEYOND_TEN_MINUTES_AND_ONSET_S,
        expected_heal_s=120,
        alerts=("RiskServiceSlow", "PipelineLatencyHigh"),
        alert_window_s=300,
    ),
    Fault(
        "risk-bad-model-push",
        f"every risk service reloaded with a model that loads but cannot predict (its classifier"
        f" expects more columns than its preprocessing gives), for {BAD_MODEL_HELD_S} s",
        _push_a_bad_model,
        _restore_the_model,
        hold_s=BAD_MODEL_HELD_S,
        expected_heal_s=240,
        alerts=("RiskServiceErrors",),
        alert_window_s=300,
    ),
    Fault(
        "risk-token-rotation",
        "the risk-service token rotated by playbooks/rotate-risk-token.yml",
        _rotate_token,
        expected_heal_s=150,
    ),
    Fault(
        "kafka-password-rotation",
        "the Kafka clients' SCRAM passwords rotated by playbooks/rotate-kafka-passwords.yml",
        _rotate_kafka_passwords,
        expected_heal_s=480,
    ),
    Fault(
        "hbase-rpc-tls-rollout",
        "HBase RPC moved to TLS only through its phases by site.yml --tags hbase, one rolling"
        " restart per run (a step back first when it is there already)",
        _roll_hbase_rpc_tls,
        expected_heal_s=240,
    ),
    Fault(
        "hdfs-encryption-rollout",
        "HDFS data transfer encryption switched on by site.yml --tags hdfs: HBase and YARN"
        " stopped, every NameNode and DataNode restarted at once (switched off first when it is"
        " on already)",
        _roll_hdfs_data_transfer_encryption,
        expected_heal_s=300,
    ),
    Fault(
        "zookeeper-client-tls-rollout",
        "ZooKeeper's client port moved to mutual TLS only through its phases by site.yml (the"
        " ensemble and its JVM clients' plays), one step per run (a step back first when it is"
        " there already)",
        _roll_zookeeper_client_tls,
        expected_heal_s=240,
    ),
    Fault(
        "mysql-password-rotation",
        "MariaDB's service-account passwords rotated by playbooks/rotate-mysql-passwords.yml",
        _rotate_mysql_passwords,
        expected_heal_s=180,
    ),
    Fault(
        "certificate-rotation",
        "every node's host certificate renewed by playbooks/rotate-certificates.yml, one node at a"
        " time",
        _rotate_certificates,
        # One node took 91 s on ci without load (ZooKeeper's and Kafka's gated restarts).
        expected_heal_s=540,
    ),
)


def by_name(names: list[str] | None) -> list[Fault]:
    if not names:
        return list(CATALOGUE)
    known = {fault.name: fault for fault in CATALOGUE}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ChaosError(f"unknown faults {unknown}; known: {', '.join(known)}")
    return [known[name] for name in names]
