"""Build the topology jar without Leiningen, and submit it to nimbus with ``sparse submit -j``.

streamparse 5.0.1 builds its jar with ``lein jar`` (Clojars is unreachable here, and the jar
holds no JVM code anyway): the jar only has to carry ``resources/`` — a copy of the project's
``src/`` — which Storm unpacks next to the worker and ``streamparse_run`` imports from. This
module writes that jar with :mod:`zipfile` and hands it to ``sparse submit -j``, which then
talks Thrift to nimbus (:6627) exactly as it would with a lein-built jar.

``sparse`` reads one ``config.json``; the checked-in ``topology/config.json`` describes the
environments, and :func:`render_config` writes a copy whose environment points at the Python
the workers must run (this checkout's venv locally, the Ansible-built venv on a cluster) and
carries the ``lendstream.*`` topology settings. See docs/topology.md.

Deploying where a topology of the same name runs replaces it safely (:func:`replace_running`):
kill with a drain longer than the topology's message timeout (nimbus deactivates it first, so the
spout stops emitting while the batches in flight finish and are committed), wait until nimbus
forgets it, then submit. The spout commits an offset only after its batch's tuple tree is acked
and HBase rows are keyed by member id, so the new topology re-reads whatever the old one had not
finished, and nothing is lost.

A cluster target comes from an Ansible inventory (``--inventory PATH``, read with
``ansible-inventory``): nimbus from group ``storm_nimbus``, Kafka brokers from ``kafka_broker``,
risk services from ``risk_service``, HBase Thrift servers from ``hbase_thrift``; the workers' venv
and the risk-service token file are the ones the ``topology`` Ansible role puts on the
supervisors. Or explicitly, as that role calls it: ``--nimbus-seed NAME=HOST:PORT`` (repeated)
and ``--set kafka_bootstrap_servers=… --set risk_service_urls=… --set hbase_hosts=…``.

Usage: ``python -m lendstream.stack.topology_jar build|deploy|kill|status [--inventory PATH]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from streamparse.thrift import KillOptions
from streamparse.util import get_nimbus_client

from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.stack.layout import CHECKOUT_ROOT, StackLayout

PROJECT_DIR = CHECKOUT_ROOT / "topology"
BUILD_DIR = CHECKOUT_ROOT / ".cache" / "topology"
TOPOLOGY_NAME = "lendstream"  # the name on nimbus
# topologies/<DEFINITION>.py; not "lendstream.py": sparse puts topologies/ on sys.path, where a
# module of that name would shadow the lendstream package the bolts import.
DEFINITION = "loan_risk"
ZIP_EPOCH = (2020, 1, 1, 0, 0, 0)  # fixed entry times: the same sources give the same jar
SUBMIT_TIMEOUT_S = 180.0
DRAIN_MARGIN_S = 10  # the drain before a kill: the running topology's message timeout + this
FORGET_TIMEOUT_S = 120.0  # after the drain, how long nimbus may take to forget a killed topology
# On a cluster (the topology Ansible role's defaults; --token-file / --workers-venv override them).
DIGEST_OPTION = "lendstream.deployment_digest"  # what a submission deployed (jar + environment)
UNCHANGED = "UNCHANGED"  # deploy's answer when it left an identical running topology alone
CLUSTER_TOKEN_FILE = "/etc/lendstream/topology/risk-service-token"
CLUSTER_PORTS = {"kafka_broker": 9092, "risk_service": 8090, "hbase_thrift": 9090, "nimbus": 6627}


def build_jar(jar_path: Path = BUILD_DIR / "lendstream-topology.jar") -> Path:
    """Write a jar of ``resources/<src files>`` (and a manifest); returns its path."""
    source = PROJECT_DIR / "src"
    files = sorted(
        path
        for path in source.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    jar_path.parent.mkdir(parents=True, exist_ok=True)
    partial = jar_path.with_suffix(".jar.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as jar:
        manifest = zipfile.ZipInfo("META-INF/MANIFEST.MF", ZIP_EPOCH)
        jar.writestr(manifest, "Manifest-Version: 1.0\r\nCreated-By: lendstream\r\n\r\n")
        for path in files:
            entry = zipfile.ZipInfo(f"resources/{path.relative_to(source).as_posix()}", ZIP_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            jar.writestr(entry, path.read_bytes())
    partial.replace(jar_path)
    return jar_path


def venv_root_and_name(prefix: str = sys.prefix) -> tuple[str, str]:
    """streamparse runs ``<virtualenv_root>/<virtualenv_name>/bin/streamparse_run``."""
    path = Path(prefix).resolve()
    return str(path.parent), path.name


def render_config(
    environment: str,
    settings: TopologyConf,
    nimbus: str | None = None,
    venv_prefix: str | None = None,
    extra_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The checked-in config.json with one environment completed for this submission.
    ``extra_options`` may override Storm settings of the topology definition (e.g.
    ``topology.message.timeout.secs``): :func:`submit` passes every option as ``-o``, which
    streamparse ranks above the definition's own ``config``."""
    config = json.loads((PROJECT_DIR / "config.json").read_text())
    env = config["envs"][environment]
    if nimbus is not None:
        env["nimbus"] = nimbus
    if venv_prefix is not None:
        env["virtualenv_root"], env["virtualenv_name"] = venv_root_and_name(venv_prefix)
    env["options"] = {
        **env.get("options", {}),
        **settings.as_storm_options(),
        **(extra_options or {}),
    }
    config["envs"] = {environment: env}
    return config


def submit(
    config: dict[str, Any],
    jar: Path,
    name: str = TOPOLOGY_NAME,
    force: bool = False,
    timeout_s: float = SUBMIT_TIMEOUT_S,
) -> str:
    """Run ``sparse submit -j <jar>`` with the rendered config; returns its output."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    config_path = BUILD_DIR / f"config.{name}.json"
    config_path.write_text(json.dumps(config, indent=2))
    environment = next(iter(config["envs"]))
    command = [
        str(Path(sys.prefix) / "bin" / "sparse"),
        "submit",
        "--config",
        str(config_path),
        "-e",
        environment,
        "-n",
        DEFINITION,
        "-N",
        name,
        "-j",
        str(jar),
        "--wait",
        "1",
    ]
    for key, value in config["envs"][environment].get("options", {}).items():
        command += ["-o", f"{key}={json.dumps(value)}"]  # JSON is YAML: values keep their type
    if force:  # streamparse's own replace: kill after 1 s and wait without bound (see deploy)
        command.append("--force")
    # streamparse refuses to run as root unless LEIN_ROOT is set (a lein habit; no lein runs).
    environ = {**os.environ, "LEIN_ROOT": "1"}
    result = subprocess.run(
        command,
        cwd=PROJECT_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"sparse submit failed ({result.returncode}):\n{output[-4000:]}")
    return output


def nimbus_client(nimbus: str, timeout_ms: int = 20_000) -> Any:
    host, port = nimbus.rsplit(":", 1)
    return get_nimbus_client(host=host, port=int(port), timeout=timeout_ms)


def running_topologies(nimbus: str) -> dict[str, str]:
    """Name → status of the topologies nimbus knows."""
    summary = nimbus_client(nimbus).getClusterInfo()
    return {topology.name: topology.status for topology in summary.topologies or []}


def leader_nimbus(seeds: dict[str, str]) -> str:
    """The leading nimbus's address (host:port) among ``seeds`` (inventory name → address the
    controller reaches it at): only the leader accepts a submission (Storm's nimbus.seeds). Each
    nimbus reports the leader by its own host name, matched to the inventory name (or its first
    label, for a fully qualified name)."""
    problems = []
    for address in seeds.values():
        try:
            summary = nimbus_client(address, timeout_ms=10_000).getClusterInfo()
        except Exception as error:  # unreachable or not serving: ask the next seed
            problems.append(f"{address}: {type(error).__name__}: {error}")
            continue
        leaders = [n.host for n in summary.nimbuses or [] if n.isLeader]
        for host in leaders:
            for name, candidate in seeds.items():
                if host in {name, candidate.rsplit(":", 1)[0]} or host.split(".")[0] == name:
                    return candidate
        problems.append(f"{address}: leader {leaders or 'none'} is not among the seeds")
    raise RuntimeError(f"no leading nimbus among {list(seeds)}: {'; '.join(problems)}")


def running_conf(nimbus: str, name: str) -> dict[str, Any] | None:
    """The Storm configuration of the running topology ``name`` (None: not running)."""
    client = nimbus_client(nimbus)
    for topology in client.getClusterInfo().topologies or []:
        if topology.name == name:
            conf: dict[str, Any] = json.loads(client.getTopologyConf(topology.id))
            return conf
    return None


def deployment_digest(config: dict[str, Any], jar: Path) -> str:
    """What a submission deploys: the jar's bytes and the environment it runs with."""
    digest = hashlib.sha256(jar.read_bytes())
    digest.update(json.dumps(config["envs"], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def kill(
    nimbus: str,
    name: str = TOPOLOGY_NAME,
    wait_s: int = 1,
    timeout_s: float = 60.0,
    report: Callable[[str], None] = lambda line: None,
) -> bool:
    """Kill a topology (nimbus deactivates it for ``wait_s`` first) and wait until nimbus forgets
    it, at most ``wait_s + timeout_s``; False if it was not running."""
    if name not in running_topologies(nimbus):
        return False
    nimbus_client(nimbus).killTopologyWithOpts(name=name, options=KillOptions(wait_secs=wait_s))
    start = time.monotonic()
    bound = wait_s + timeout_s
    next_report = start + 15.0
    while (waited := time.monotonic() - start) < bound:
        if name not in running_topologies(nimbus):
            return True
        if time.monotonic() >= next_report:
            phase = "draining" if waited < wait_s else "waiting for nimbus to forget it"
            report(f"  {phase}: {waited:.0f} s of at most {bound:.0f} s")
            next_report += 15.0
        time.sleep(1.0)
    raise TimeoutError(f"topology {name} still known to nimbus after {bound:.0f} s")


def replace_running(
    nimbus: str,
    name: str,
    drain_s: int | None = None,
    report: Callable[[str], None] = print,
) -> bool:
    """If ``name`` runs: kill it with a drain longer than its message timeout and wait until
    nimbus forgets it (bounded). False if nothing of that name ran."""
    conf = running_conf(nimbus, name)
    if conf is None:
        report(f"no topology {name} running on {nimbus}: plain submission")
        return False
    timeout = int(conf.get("topology.message.timeout.secs") or 30)
    drain = drain_s if drain_s is not None else timeout + DRAIN_MARGIN_S
    report(
        f"replacing {name} on {nimbus}: deactivated now, killed after a {drain} s drain "
        f"(its message timeout is {timeout} s), so the batches in flight finish and commit"
    )
    start = time.monotonic()
    kill(nimbus, name, wait_s=drain, timeout_s=FORGET_TIMEOUT_S, report=report)
    report(f"{name} killed and forgotten by nimbus after {time.monotonic() - start:.0f} s")
    return True


def deploy(
    config: dict[str, Any],
    nimbus: str,
    name: str = TOPOLOGY_NAME,
    *,
    drain_s: int | None = None,
    report: Callable[[str], None] = print,
    skip_if_unchanged: bool = False,
) -> str:
    """Build the jar, replace a running topology of that name safely, submit; returns sparse's
    output. The submission carries ``lendstream.deployment_digest`` (jar and environment); with
    ``skip_if_unchanged``, a running topology with the same digest is left alone and
    ``UNCHANGED`` returned."""
    jar = build_jar()
    digest = deployment_digest(config, jar)
    if skip_if_unchanged:
        running = running_conf(nimbus, name) or {}
        if running.get(DIGEST_OPTION) == digest:
            report(f"{name} on {nimbus} already runs deployment {digest}: left alone")
            return UNCHANGED
    environment = next(iter(config["envs"]))
    config["envs"][environment]["options"][DIGEST_OPTION] = digest
    replaced = replace_running(nimbus, name, drain_s, report)
    output = submit(config, jar, name=name)
    report(
        f"submitted {name} (deployment {digest}) to {nimbus}"
        + (" (replacing the old one)" if replaced else "")
    )
    return output


def local_settings(layout: StackLayout | None = None) -> TopologyConf:
    """The topology's settings for the single-machine stack."""
    layout = layout or StackLayout.default()
    ports = layout.ports
    return TopologyConf(
        kafka_bootstrap_servers=f"{layout.host}:{ports.kafka}",
        hbase_hosts=layout.host,
        hbase_port=ports.hbase_thrift,
        risk_service_urls=f"http://{layout.host}:{ports.risk_service}",
        risk_service_token_file=str(layout.secrets / "risk-service-token"),
    )


def local_nimbus(layout: StackLayout | None = None) -> str:
    layout = layout or StackLayout.default()
    return f"{layout.host}:{layout.ports.storm_nimbus}"


def deploy_local(
    settings: TopologyConf | None = None,
    name: str = TOPOLOGY_NAME,
    *,
    extra_options: dict[str, Any] | None = None,
    nimbus: str | None = None,
    drain_s: int | None = None,
    report: Callable[[str], None] = lambda line: None,
    skip_if_unchanged: bool = False,
) -> str:
    """Build the jar and submit the topology (default: to the local stack's nimbus), replacing
    a running topology of the same name safely (:func:`replace_running`)."""
    layout = StackLayout.default()
    settings = settings or local_settings(layout)
    if not Path(settings.risk_service_token_file).is_file():
        raise FileNotFoundError(
            f"the risk service's token file {settings.risk_service_token_file!r} is missing: "
            "start the risk service first, or point at its token with "
            "--set risk_service_token_file=PATH --set risk_service_urls=URL[,URL…]"
        )
    nimbus = nimbus or local_nimbus(layout)
    config = render_config("local", settings, nimbus, sys.prefix, extra_options)
    return deploy(
        config,
        nimbus,
        name,
        drain_s=drain_s,
        report=report,
        skip_if_unchanged=skip_if_unchanged,
    )


@dataclass(frozen=True)
class ClusterTarget:
    """Where and how the topology runs on a cluster described by an Ansible inventory."""

    nimbus_seeds: dict[str, str]  # inventory name → host:port the controller reaches it at
    supervisors: list[str]  # inventory host names (the workers' view, through /etc/hosts)
    settings: TopologyConf


def inventory_groups(inventory: Path) -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
    """Group → its hosts (children included, inventory order), and each host's variables."""
    result = subprocess.run(
        [str(Path(sys.prefix) / "bin" / "ansible-inventory"), "-i", str(inventory), "--list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ansible-inventory failed on {inventory}:\n{result.stderr[-2000:]}")
    data = json.loads(result.stdout)
    hostvars: dict[str, dict[str, Any]] = data.get("_meta", {}).get("hostvars", {})

    def hosts_of(group: str, seen: frozenset[str] = frozenset()) -> list[str]:
        entry = data.get(group, {})
        hosts = list(entry.get("hosts", []))
        for child in entry.get("children", []):
            if child not in seen:
                hosts += [h for h in hosts_of(child, seen | {group}) if h not in hosts]
        return hosts

    groups = {name: hosts_of(name) for name in data if name != "_meta"}
    return groups, hostvars


def cluster_target(
    inventory: Path, token_file: str = CLUSTER_TOKEN_FILE, base: TopologyConf | None = None
) -> ClusterTarget:
    """The topology's settings on the cluster of ``inventory``: every Kafka broker, risk service
    and HBase Thrift server by its inventory name; nimbus seeds by the address the controller
    reaches them at. Ports: the host's ``kafka_broker_port`` / ``risk_service_port`` /
    ``hbase_thrift_port`` / ``storm_nimbus_thrift_port`` variables if the inventory sets them."""
    groups, hostvars = inventory_groups(inventory)

    def members(group: str) -> list[str]:
        hosts = groups.get(group, [])
        if not hosts:
            raise ValueError(f"inventory {inventory} has no host in group {group!r}")
        return hosts

    def port(host: str, variable: str, default: int) -> int:
        return int(hostvars.get(host, {}).get(variable, default))

    brokers = [
        f"{h}:{port(h, 'kafka_broker_port', CLUSTER_PORTS['kafka_broker'])}"
        for h in members("kafka_broker")
    ]
    risk_urls = [
        f"http://{h}:{port(h, 'risk_service_port', CLUSTER_PORTS['risk_service'])}"
        for h in members("risk_service")
    ]
    thrift_hosts = members("hbase_thrift")
    thrift_ports = {
        port(h, "hbase_thrift_port", CLUSTER_PORTS["hbase_thrift"]) for h in thrift_hosts
    }
    if len(thrift_ports) != 1:
        raise ValueError(f"the HBase Thrift servers listen on different ports: {thrift_ports}")
    seeds = {
        h: f"{hostvars.get(h, {}).get('ansible_host', h)}:"
        f"{port(h, 'storm_nimbus_thrift_port', CLUSTER_PORTS['nimbus'])}"
        for h in members("storm_nimbus")
    }
    settings = replace(
        base or TopologyConf(),
        kafka_bootstrap_servers=",".join(brokers),
        risk_service_urls=",".join(risk_urls),
        risk_service_token_file=token_file,
        hbase_hosts=",".join(thrift_hosts),
        hbase_port=thrift_ports.pop(),
    )
    return ClusterTarget(seeds, members("storm_supervisor"), settings)


def deploy_cluster(
    target: ClusterTarget,
    name: str = TOPOLOGY_NAME,
    *,
    workers_venv: str | None = None,
    drain_s: int | None = None,
    report: Callable[[str], None] = print,
    skip_if_unchanged: bool = False,
    extra_options: dict[str, Any] | None = None,
) -> str:
    """Submit to the cluster's leading nimbus, replacing a running topology safely."""
    nimbus = leader_nimbus(target.nimbus_seeds)
    report(f"leading nimbus: {nimbus}")
    config = render_config("cluster", target.settings, nimbus, workers_venv, extra_options)
    if target.supervisors:
        config["envs"]["cluster"]["workers"] = target.supervisors
    return deploy(
        config,
        nimbus,
        name,
        drain_s=drain_s,
        report=report,
        skip_if_unchanged=skip_if_unchanged,
    )


def apply_overrides(settings: TopologyConf, overrides: list[str]) -> TopologyConf:
    """``["field=value", …]`` applied to ``settings`` (each value converted to the field's type)."""
    pairs = dict(item.split("=", 1) for item in overrides)
    return replace(
        settings, **{key: type(getattr(settings, key))(value) for key, value in pairs.items()}
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lendstream topology", description=__doc__)
    parser.add_argument("action", choices=["build", "deploy", "kill", "status"])
    parser.add_argument("--name", default=TOPOLOGY_NAME, help="topology name on nimbus")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a topology setting, e.g. --set hbase_table=members_test",
    )
    parser.add_argument(
        "--inventory", type=Path, help="an Ansible inventory: deploy to that cluster"
    )
    parser.add_argument(
        "--nimbus-seed",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT",
        help="cluster without --inventory: a nimbus (its host name = the address to reach it)",
    )
    parser.add_argument(
        "--token-file",
        default=CLUSTER_TOKEN_FILE,
        help="cluster: the risk-service token file on the supervisors",
    )
    parser.add_argument(
        "--workers-venv",
        help="cluster: the Python venv on the supervisors (default: topology/config.json)",
    )
    parser.add_argument(
        "--skip-if-unchanged",
        action="store_true",
        help="leave a running topology with the same jar and settings alone (prints UNCHANGED)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=int,
        help="drain before killing a running topology (default: its message timeout + 10 s)",
    )
    args = parser.parse_args(argv)
    target = None
    if args.inventory is not None:
        target = cluster_target(args.inventory, args.token_file)
        target = replace(target, settings=apply_overrides(target.settings, args.set))
    elif args.nimbus_seed:
        seeds = dict(seed.split("=", 1) for seed in args.nimbus_seed)
        settings = TopologyConf(risk_service_token_file=args.token_file)
        target = ClusterTarget(seeds, [], apply_overrides(settings, args.set))
    if args.action == "build":
        print(build_jar())
        return
    nimbus = leader_nimbus(target.nimbus_seeds) if target else local_nimbus()
    if args.action == "deploy":
        try:
            if target is not None:
                print(
                    deploy_cluster(
                        target,
                        args.name,
                        workers_venv=args.workers_venv,
                        drain_s=args.drain_seconds,
                        skip_if_unchanged=args.skip_if_unchanged,
                    )
                )
            else:
                settings = apply_overrides(local_settings(), args.set)
                print(
                    deploy_local(
                        settings,
                        args.name,
                        drain_s=args.drain_seconds,
                        report=print,
                        skip_if_unchanged=args.skip_if_unchanged,
                    )
                )
        except (FileNotFoundError, RuntimeError, TimeoutError) as error:
            sys.exit(f"deploy failed: {error}")
    elif args.action == "kill":
        print("killed" if kill(nimbus, args.name) else f"{args.name} was not running")
    else:
        print(json.dumps(running_topologies(nimbus), indent=2))


if __name__ == "__main__":
    main()
