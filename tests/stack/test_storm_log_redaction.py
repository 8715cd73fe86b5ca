"""Storm's daemons and workers log their whole configuration when they start ("Starting Nimbus
with conf {...}"), and Storm masks only storm.zookeeper.topology.auth.payload there. The storm
role's log4j2 configurations (cluster.xml for the daemons, worker.xml for the workers), rendered
for the single-machine stack by local-stack.yml and loaded by the bundle's own log4j2 (lib/ and
lib-worker/), mask the password of storm.zookeeper.auth.payload in every line, keep the user and
leave every other line as it was. tests/infra/test_infra_logs.py checks the deployed cluster's
journals and logs for every secret of the Vault."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from storm_log4j2 import run_probe, worker_dir

from lendstream.stack.layout import StackLayout
from lendstream.stack.render import render_vars, run_render_playbook

pytestmark = pytest.mark.stack

# Every character the storm role's argument spec allows in storm_zookeeper_auth_password.
EVERY_ALLOWED_CHARACTER = "AZaz09_.~+/=-"

# Logs what nimbus, the supervisor and a worker log at start, each password given as an argument.
PROBE_SOURCE = """
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

public class ConfLogProbe {
    public static void main(String[] args) {
        Logger nimbus = LogManager.getLogger("org.apache.storm.daemon.nimbus.Nimbus");
        for (String password : args) {
            nimbus.info("Starting Nimbus with conf {storm.zookeeper.retry.interval=1000, "
                + "storm.zookeeper.auth.payload=storm:" + password + ", "
                + "storm.zookeeper.topology.auth.payload=*****, topology.debug=false}");
            nimbus.info("Starting Supervisor with conf {storm.zookeeper.auth.payload=storm:"
                + password + "}");
        }
        nimbus.info("an ordinary line: auth.payload=storm:not-the-cluster-digest");
        LogManager.shutdown();
    }
}
"""


@pytest.fixture(scope="module")
def storm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = StackLayout(root=tmp_path_factory.mktemp("redaction") / "stack")
    layout.root.mkdir()
    run_render_playbook(layout, render_vars(layout, ["storm"]))
    return layout.root / "storm" / "home"


def _probe(storm_home: Path, tmp_path: Path, config: str, lib: str, passwords: list[str]) -> str:
    probe = tmp_path / "ConfLogProbe.java"
    probe.write_text(PROBE_SOURCE)
    artifacts = tmp_path / "workers-artifacts"
    result = run_probe(storm_home, config, lib, probe, artifacts=artifacts, args=passwords)
    if config == "cluster.xml":
        return result.stdout
    return (worker_dir(artifacts) / "worker.log").read_text()


@pytest.mark.parametrize(("config", "lib"), [("cluster.xml", "lib"), ("worker.xml", "lib-worker")])
def test_the_cluster_digest_password_never_reaches_a_log(
    storm_home: Path, tmp_path: Path, config: str, lib: str
) -> None:
    passwords = [secrets.token_urlsafe(32), EVERY_ALLOWED_CHARACTER * 2]
    logged = _probe(storm_home, tmp_path, config, lib, passwords)

    for password in passwords:
        assert password not in logged
    assert logged.count("storm.zookeeper.auth.payload=storm:*****, ") == len(passwords)
    assert logged.count("storm.zookeeper.auth.payload=storm:*****}") == len(passwords)
    assert "storm.zookeeper.topology.auth.payload=*****, topology.debug=false}" in logged
    assert "an ordinary line: auth.payload=storm:not-the-cluster-digest" in logged
