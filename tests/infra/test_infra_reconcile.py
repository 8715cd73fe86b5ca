"""The end-to-end check of the deployed pipeline, once for the cluster: `python -m
lendstream.reconcile` on a Storm supervisor (its virtualenv and the topology's risk-service token
are there, and the names Kafka advertises resolve) accounts for every applicant published — each
valid one stored once as decided, each malformed one dead-lettered for its own defect.

Works with any one node down, as an operator checks exactly then: the check runs on the first
supervisor whose SSH port answers, reading HBase through that node's own Thrift server (it listens
on 127.0.0.1 only), and reconcile itself skips the Kafka brokers and risk services that do not
answer (reported as a warning here, and in its JSON).

Runs once, not once per node: it takes no `host` fixture (which `--hosts=ansible://all` would
parametrize over every node, overriding a `testinfra_hosts`) and picks its node itself.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import warnings
from typing import Any

import pytest
import testinfra
from infra_cluster import HBASE_THRIFT, KAFKA_BROKER, TLS_CA_FILE
from testinfra.utils.ansible_runner import AnsibleRunner

from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.reconcile.endpoints import connect_error

RISK_SERVICE_PORT = 8090  # the risk_service role's default
LOCAL_THRIFT = "127.0.0.1"  # the hbase role's hbase_thrift_address, on every supervisor
SSH_PORT = 22
# The command's bound on the node; its own drain wait is shorter, so a pipeline still busy
# fails with reconcile's message (how far behind), not with this one.
COMMAND_TIMEOUT_S = 900
DRAIN_TIMEOUT_S = 600


class UnreachableEndpoints(UserWarning):
    """Reconcile skipped endpoints that did not answer (a node down?)."""


def _answering_supervisor(inventory: AnsibleRunner) -> str:
    """The first Storm supervisor (by name) whose SSH port answers the controller."""
    supervisors = inventory.get_hosts("storm_supervisor")
    if not supervisors:
        pytest.fail("the inventory has no storm_supervisor: nowhere to run the reconcile")
    problems = []
    for name in supervisors:
        variables = inventory.get_variables(name)
        address = str(variables.get("ansible_host", name))
        error = connect_error(address, int(variables.get("ansible_port", SSH_PORT)))
        if error is None:
            return name
        problems.append(f"{name} ({address}): {error}")
    pytest.fail(f"no Storm supervisor answers on SSH: {'; '.join(problems)}")


def reconcile_argv(variables: dict[str, Any]) -> list[str]:
    """The reconcile command for the cluster `variables` (a supervisor's, with `groups`)
    describes: endpoints from the inventory groups, names as the topology role deployed them."""
    groups = variables["groups"]
    settings = {**dataclasses.asdict(TopologyConf()), **variables.get("topology_settings", {})}
    broker_port = variables.get("kafka_broker_port", KAFKA_BROKER)
    risk_port = variables.get("risk_service_port", RISK_SERVICE_PORT)
    conf_dir = variables.get("topology_conf_dir", "/etc/lendstream/topology")
    venv = variables.get("topology_venv_dir", "/opt/lendstream/venv")
    tls = bool(variables.get("lendstream_tls", False))  # HTTPS to the risk services
    scheme = "https" if tls else "http"
    return [
        "timeout", str(COMMAND_TIMEOUT_S), f"{venv}/bin/python",
        "-m", "lendstream.reconcile", "--json",
        "--bootstrap", ",".join(f"{h}:{broker_port}" for h in groups["kafka_broker"]),
        "--topic", settings["kafka_topic"],
        "--dead-letter-topic", settings["kafka_dead_letter_topic"],
        "--group", settings["kafka_group_id"],
        "--hbase-hosts", LOCAL_THRIFT,  # the supervisor's own: it listens on loopback only
        "--hbase-port", str(variables.get("hbase_thrift_port", HBASE_THRIFT)),
        "--table", settings["hbase_table"],
        "--risk-url", ",".join(f"{scheme}://{h}:{risk_port}" for h in groups["risk_service"]),
        "--risk-token-file", f"{conf_dir}/risk-service-token",
        *(["--risk-ca-file", TLS_CA_FILE] if tls else []),
        "--drain-timeout-s", str(DRAIN_TIMEOUT_S),
    ]  # fmt: skip


def test_every_published_applicant_is_stored_once_or_dead_lettered(
    inventory: AnsibleRunner, pytestconfig: pytest.Config
) -> None:
    node = _answering_supervisor(inventory)
    option = pytestconfig.option  # the connection options testinfra gives its `host` fixture
    host = testinfra.get_host(
        f"ansible://{node}",
        connection=option.connection,
        ssh_config=option.ssh_config,
        ssh_identity_file=option.ssh_identity_file,
        ansible_inventory=option.ansible_inventory,
        force_ansible=option.force_ansible,
    )
    argv = reconcile_argv(inventory.get_variables(node))
    with host.sudo():  # the token file is root's and the workers' group's
        result = host.run(shlex.join(argv))
    where = f"reconcile on {node}"
    assert result.rc in (0, 1), f"{where} could not check (exit {result.rc}): {result.stderr}"
    summary = json.loads(result.stdout)
    if summary["unreachable"]:
        warnings.warn(
            f"{where} skipped endpoints that did not answer: {summary['unreachable']}",
            UnreachableEndpoints,
            stacklevel=1,
        )
    assert summary["reconciled"], f"{where}: {summary['first_differences']}"
    accounted = summary["stored"] + summary["dead_lettered"] + summary["superseded"]
    assert summary["published"] == accounted, summary
