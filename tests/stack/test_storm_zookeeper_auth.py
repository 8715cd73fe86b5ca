"""Storm's ZooKeeper digest authentication, from the storm role's templates: a private ZooKeeper
and nimbus (then a supervisor) rendered by local-stack.yml and started from their launchers.

Nimbus first runs without `storm_zookeeper_auth_password`: its znodes are world-writable, and a
client with no credentials may delete under Storm's root. With the password set, storm.yaml is
private (0640) and carries the digest scheme and a super ACL; nimbus and a supervisor, started on
a fresh root, make it creator-only: a delete under it is denied (NOAUTH) with no or a wrong
password and allowed with the right one, and the supervisor registers with nimbus. The older
root stays open (nimbus's ACL check is off, docs/security.md).
The deletes are the attack suite's own client (lendstream.attacks.clients), on a znode that does
not exist: NONODE means the ACL let the delete through."""

from __future__ import annotations

import grp
import os
import secrets
import stat
import subprocess
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from local_processes import clean_environment, running, wait_until

from lendstream.attacks import clients
from lendstream.attacks.clients import Outcome
from lendstream.stack.layout import StackLayout, StackPorts
from lendstream.stack.render import render_vars, run_render_playbook

pytestmark = pytest.mark.stack

PORT_OFFSET = 1040  # clear of the shared stack's ports and of test_jmx_exporter's
START_TIMEOUT_S = 120.0
OPEN_ROOT = "/storm-before"  # Storm's root as a deployment without the password made it
SECURED_ROOT = "/storm"
USER = "storm"


def _render(layout: StackLayout, zookeeper_password: str, storm_root: str) -> None:
    extra = render_vars(layout, ["zookeeper", "storm"])
    extra["storm_zookeeper_auth_password"] = zookeeper_password
    extra["storm_zookeeper_root"] = storm_root
    extra["storm_group"] = grp.getgrgid(os.getgid()).gr_name  # the stack runs Storm as its user
    run_render_playbook(layout, extra)


def _delete_under(port: int, parent: str, digest: str | None = None) -> tuple[str, str]:
    params: dict[str, str] = {"parent": parent}
    if digest:
        params["digest"] = digest
    return clients.zookeeper_delete_znode(["127.0.0.1"], port, params)


def _cluster_info(port: int) -> tuple[str, str]:
    """(outcome, detail) of nimbus's getClusterInfo; the detail counts the supervisors."""
    return clients.nimbus_cluster_info(["127.0.0.1"], port, {})


def test_storm_znodes_are_creator_only_with_the_zookeeper_password(tmp_path: Path) -> None:
    layout = StackLayout(root=tmp_path / "stack", ports=StackPorts().shifted(PORT_OFFSET))
    layout.root.mkdir()
    layout.logs.mkdir(parents=True, exist_ok=True)
    zookeeper_port = layout.ports.zookeeper
    nimbus_port = layout.ports.storm_nimbus
    password = secrets.token_urlsafe(24)
    environment = clean_environment({})
    logs = {
        program: layout.program_log(program)
        for program in ("zookeeper-server", "storm-nimbus", "storm-supervisor")
    }

    def start(program: str, role: str) -> AbstractContextManager[subprocess.Popen[bytes]]:
        return running(
            [str(layout.launcher(role, program))],
            logs[program],
            env=environment,
            cwd=layout.component_dir(role),
        )

    def wait_for_nimbus(nimbus: subprocess.Popen[bytes], supervisors: int) -> None:
        wait_until(
            lambda: f" {supervisors} supervisors," in _cluster_info(nimbus_port)[1],
            START_TIMEOUT_S,
            f"nimbus answering getClusterInfo with {supervisors} supervisors",
            nimbus,
            logs["storm-nimbus"],
        )

    _render(layout, "", OPEN_ROOT)
    storm_yaml = layout.component_dir("storm") / "home" / "conf" / "storm.yaml"
    assert "storm.zookeeper.auth" not in storm_yaml.read_text()
    assert stat.S_IMODE(storm_yaml.stat().st_mode) == 0o644

    with start("zookeeper-server", "zookeeper") as zookeeper:
        wait_until(
            lambda: _delete_under(zookeeper_port, "/")[0] != Outcome.FAILED,
            START_TIMEOUT_S,
            "ZooKeeper answering",
            zookeeper,
            logs["zookeeper-server"],
        )
        # Without the password nimbus leaves its root open to anyone.
        with start("storm-nimbus", "storm") as nimbus:
            wait_for_nimbus(nimbus, 0)
        assert _delete_under(zookeeper_port, OPEN_ROOT)[0] == Outcome.SUCCEEDED

        _render(layout, password, SECURED_ROOT)
        text = storm_yaml.read_text()
        assert "storm.zookeeper.auth.scheme: digest" in text
        assert f'storm.zookeeper.auth.payload: "{USER}:{password}"' in text
        assert f'storm.zookeeper.superACL: "digest:{USER}:' in text
        assert stat.S_IMODE(storm_yaml.stat().st_mode) == 0o640

        with (
            start("storm-nimbus", "storm") as nimbus,
            start("storm-supervisor", "storm") as supervisor,
        ):
            wait_for_nimbus(nimbus, 1)  # the supervisor registered under the new ACLs
            assert supervisor.poll() is None
            anonymous = _delete_under(zookeeper_port, SECURED_ROOT)
            wrong = _delete_under(zookeeper_port, SECURED_ROOT, f"{USER}:{clients.WRONG_PASSWORD}")
            right = _delete_under(zookeeper_port, SECURED_ROOT, f"{USER}:{password}")
        # Nimbus leaves the ACLs of older znodes as they are (its check is off: docs/security.md).
        older = _delete_under(zookeeper_port, OPEN_ROOT)

    assert anonymous[0] == Outcome.DENIED, anonymous
    assert wrong[0] == Outcome.DENIED, wrong
    assert right[0] == Outcome.SUCCEEDED, right
    assert "-101" in right[1]  # NONODE: allowed, and nothing was there to delete
    assert older[0] == Outcome.SUCCEEDED, older
