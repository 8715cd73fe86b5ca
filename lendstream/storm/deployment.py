"""What runs on nimbus, and deploying the topology: a running one of the same name is replaced
safely.

Deploying where a topology of the same name runs replaces it safely (:func:`replace_running`):
kill with a drain longer than the topology's message timeout (nimbus deactivates it first, so the
spout stops emitting while the batches in flight finish and are committed), wait until nimbus
forgets it, then submit. The spout commits an offset only after its batch's tuple tree is acked
and HBase rows are keyed by member id, so the new topology re-reads whatever the old one had not
finished, and nothing is lost.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from streamparse.thrift import KillOptions

from lendstream.storm.inventory import ClusterTarget
from lendstream.storm.jar import (
    TOPOLOGY_NAME,
    ZOOKEEPER_AUTH_PAYLOAD_OPTION,
    build_jar,
    deployment_digest,
    render_config,
    submit,
)
from lendstream.storm.nimbus import NimbusAddress, NimbusSession, find_leader

DRAIN_MARGIN_S = 10  # the drain before a kill: the running topology's message timeout + this
FORGET_TIMEOUT_S = 120.0  # after the drain, how long nimbus may take to forget a killed topology
DIGEST_OPTION = "lendstream.deployment_digest"  # what a submission deployed (jar + environment)
ZOOKEEPER_AUTH_SCHEME_OPTION = "storm.zookeeper.topology.auth.scheme"
ZOOKEEPER_PAYLOAD_ENV = "LENDSTREAM_STORM_ZOOKEEPER_PAYLOAD"


def zookeeper_topology_auth() -> tuple[dict[str, str], bool]:
    """The ZooKeeper digest the topology's workers authenticate as, which Storm's own
    StormSubmitter adds and streamparse (over Thrift) does not: nimbus with ZooKeeper
    authentication (the storm role's storm_zookeeper_auth_password) refuses a topology without
    one, and nimbus without drops it. ``LENDSTREAM_STORM_ZOOKEEPER_PAYLOAD`` (``user:password``,
    the topology role passes the storm daemons' own) when set, since the workers check Storm's
    parent znodes, which only that identity may read; else a random one per submission. With it,
    whether it is fixed (part of what a deployment is: a new password redeploys)."""
    fixed = os.environ.get(ZOOKEEPER_PAYLOAD_ENV, "")
    payload = fixed or f"{secrets.randbits(63)}:{secrets.randbits(63)}"
    options = {ZOOKEEPER_AUTH_SCHEME_OPTION: "digest", ZOOKEEPER_AUTH_PAYLOAD_OPTION: payload}
    return options, bool(fixed)


UNCHANGED = "UNCHANGED"  # deploy's answer when it left an identical running topology alone
WOULD_DEPLOY = "WOULD_DEPLOY"  # a dry run's answer when a deploy would submit (or replace)


def running_topologies(nimbus: str) -> dict[str, str]:
    """Name → status of the topologies nimbus (``host:port``) knows."""
    with NimbusSession(nimbus) as session:
        summary = session.client.getClusterInfo()
    return {topology.name: topology.status for topology in summary.topologies or []}


def running_conf(nimbus: str, name: str) -> dict[str, Any] | None:
    """The Storm configuration of the running topology ``name`` (None: not running)."""
    with NimbusSession(nimbus) as session:
        for topology in session.client.getClusterInfo().topologies or []:
            if topology.name == name:
                conf: dict[str, Any] = json.loads(session.client.getTopologyConf(topology.id))
                return conf
    return None


def leading_nimbus(target: ClusterTarget) -> str:
    """``host:port`` of the cluster's leading nimbus (only it accepts a submission)."""
    seeds = {name: NimbusAddress.parse(address) for name, address in target.nimbus_seeds.items()}
    return str(find_leader(seeds))


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
    with NimbusSession(nimbus) as session:
        session.client.killTopologyWithOpts(name=name, options=KillOptions(wait_secs=wait_s))
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
    dry_run: bool = False,
) -> str:
    """Build the jar, replace a running topology of that name safely, submit; returns sparse's
    output. The submission carries ``lendstream.deployment_digest`` (jar and environment); with
    ``skip_if_unchanged``, a running topology with the same digest is left alone and
    ``UNCHANGED`` returned. A ``dry_run`` (Ansible's check mode) builds the jar and compares
    digests the same way but changes nothing on nimbus: ``UNCHANGED`` or ``WOULD_DEPLOY``."""
    jar = build_jar()
    environment = next(iter(config["envs"]))
    options = config["envs"][environment]["options"]
    zookeeper_auth, fixed = zookeeper_topology_auth()
    if fixed:  # before the digest: a changed password is a changed deployment
        options.update(zookeeper_auth)
    digest = deployment_digest(config, jar)
    if skip_if_unchanged or dry_run:
        running = running_conf(nimbus, name) or {}
        if running.get(DIGEST_OPTION) == digest:
            report(f"{name} on {nimbus} already runs deployment {digest}: left alone")
            return UNCHANGED
        if dry_run:
            report(f"{name} on {nimbus} runs {running.get(DIGEST_OPTION)}: would deploy {digest}")
            return WOULD_DEPLOY
    options[DIGEST_OPTION] = digest
    options.update(zookeeper_auth)
    replaced = replace_running(nimbus, name, drain_s, report)
    output = submit(config, jar, name=name)
    report(
        f"submitted {name} (deployment {digest}) to {nimbus}"
        + (" (replacing the old one)" if replaced else "")
    )
    return output


def deploy_cluster(
    target: ClusterTarget,
    name: str = TOPOLOGY_NAME,
    *,
    workers_venv: str | None = None,
    drain_s: int | None = None,
    report: Callable[[str], None] = print,
    skip_if_unchanged: bool = False,
    dry_run: bool = False,
    extra_options: dict[str, Any] | None = None,
) -> str:
    """Submit to the cluster's leading nimbus, replacing a running topology safely."""
    nimbus = leading_nimbus(target)
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
        dry_run=dry_run,
    )
