"""The attack suite (lendstream.attacks) on the package's deployed layout (conftest.py).

From a probe namespace on the layout's bridge, in no inventory, every attack must fail: Kafka
produce, consume and topic deletion with no and with wrong SCRAM credentials, HBase Thrift, a
ZooKeeper delete, nimbus (submit, kill, cluster info), WebHDFS LISTSTATUS, a ResourceManager
new-application, a MariaDB login, the applicant API and the risk services without a token and in
plain HTTP. From a cluster member (which the firewall lets in), what the deployment authenticates
must be denied on its own (with lendstream_tls: no or a wrong token → 401, plain HTTP to the TLS
ports refused, the Hadoop web servers' HTTPS ports among them, MariaDB without TLS refused for the
API's own account, Kafka's SASL_SSL port giving a plaintext client nothing and refusing a wrong
SCRAM user that has the CA, ZooKeeper's election and quorum ports hanging up on a plaintext peer's
opening), and another node's HBase Thrift server must not answer at all (it listens on its node's
loopback only); the rest is listed as "not enforced yet" and not asserted (the member's own loopback
Thrift among them).

A capture on the bridge while applicants flow end to end (and a member reads them back through
MariaDB, the API and the risk services over TLS) must find no applicant value in clear text on
the TLS ports (Kafka's among them with lendstream_tls), and must find them on a plaintext port (so
the capture is seen to work): Kafka's without lendstream_tls, else HBase's or HDFS's, which carry
the stored rows in clear between nodes.
Afterwards the pipeline still reconciles exactly, and no confidential entry of the Vault is in any
node's journal or log after everything the deploy, fault and attack suites did (the testinfra
check of tests/infra/test_infra_logs.py, run again). The tables go into the session's figures.
The module runs last of the directory (its name), on the cluster the deploy and fault suites have
been through.
"""

from __future__ import annotations

import pytest
from deployment import FIGURES, Cluster, run_testinfra, site_first_run

from lendstream.attacks import runner, suite
from lendstream.attacks.clients import ANSWER_TIMEOUT_S, CONNECT_TIMEOUT_S, Outcome
from lendstream.chaos.cluster import role_default
from lendstream.chaos.report import lost_from

pytestmark = [pytest.mark.vcluster, pytest.mark.slow, pytest.mark.timeout(600)]

# One attack: a connect per host, then the client's connect and answer bounds (Kafka's clients
# wait for a broker, then for an answer).
ATTACK_BOUND_S = 3 * CONNECT_TIMEOUT_S + 2 * ANSWER_TIMEOUT_S + 5


@pytest.fixture(scope="module")
def report(cluster: Cluster) -> runner.Report:
    site_first_run(cluster)  # already done when another module ran first
    report = runner.run_suite(cluster.chaos, with_capture=True, progress=print)
    FIGURES["attack suite"] = "\n" + report.text()
    return report


# Refused on every cluster (the hdfs and yarn roles' defaults): WebHDFS naming a user, the
# ResourceManager's REST new-application, Hadoop RPC from outside hadoop-policy.xml's hosts; and
# another node's HBase Thrift server unreachable (the hbase role binds it to loopback).
EVERY_CLUSTER_ATTACKS = {
    "webhdfs-liststatus",
    "yarn-new-application",
    "hadoop-rpc-call",
    "hbase-thrift-tables",
}


def test_every_attack_from_outside_the_inventory_fails(report: runner.Report) -> None:
    probe = [finding for finding in report.findings if finding.attack.origin == "probe"]
    assert len(probe) >= 20
    failed = [finding.as_dict() for finding in probe if finding.verdict != suite.PASS]
    assert not failed, failed
    # The firewall stops them before any credential is asked for, and each is bounded.
    assert {finding.outcome for finding in probe} == {Outcome.DROPPED}, suite.table(probe)
    assert max(finding.seconds for finding in probe) <= ATTACK_BOUND_S


def test_a_member_without_credentials_is_denied_what_the_deployment_authenticates(
    cluster: Cluster, report: runner.Report
) -> None:
    member = [finding for finding in report.findings if finding.attack.origin != "probe"]
    enforced = [f for f in member if f.attack.expected != suite.NOT_ENFORCED]
    assert not [f.as_dict() for f in enforced if f.verdict != suite.PASS], suite.table(member)
    if cluster.chaos.tls:
        expected = {
            "applicant-api-list",
            "risk-service-score",
            "plain-http",
            "mysql-connect",
            "kafka-consume",
            "kafka-delete-topic",
            # any znode: TLS without a client certificate (the zookeeper role's client TLS)
            "zookeeper-delete-znode",
            "zookeeper-quorum-plaintext",  # the quorum's TLS (the zookeeper role's sslQuorum)
            "zookeeper-client-plaintext",  # the client port's TLS (the same role's phase 3)
            "hbase-rpc-plaintext",  # HBase RPC TLS (the hbase role's phase 3)
            *EVERY_CLUSTER_ATTACKS,
        }
        assert {f.attack.attack for f in enforced} == expected
        # 23, and plain HTTP to each Hadoop web server's HTTPS port (NameNode, DataNode,
        # JournalNode, ResourceManager, NodeManager: the hdfs and yarn roles' HTTPS_ONLY).
        assert len(enforced) == 28
        hadoop_web = [f for f in enforced if f.attack.name.endswith("web server in plain HTTP")]
        assert len(hadoop_web) == 5, suite.table(hadoop_web)
    else:
        assert {f.attack.attack for f in enforced} == EVERY_CLUSTER_ATTACKS
    # Nothing listens for Thrift on another node's cluster address, and no rule lets it through.
    thrift = [f for f in enforced if f.attack.attack == "hbase-thrift-tables"]
    assert [f.outcome for f in thrift] == [Outcome.DROPPED], suite.table(thrift)


def test_no_applicant_value_crosses_the_bridge_in_clear_on_a_tls_port(
    cluster: Cluster, report: runner.Report
) -> None:
    captured = report.capture
    assert captured is not None
    assert report.load["topic_records"] >= report.load["table_rows"]
    # The capture sees clear text where there is some: the producer's records on Kafka's port
    # when it is plaintext. With lendstream_tls no port is left that carries applicants in clear
    # (Kafka SASL_SSL, HBase RPC TLS, HDFS data transfer encryption, the sealed Storm tuples), so
    # that the capture would find one is shown by tests/vcluster/test_attack_capture.py; here the
    # protected ports must carry traffic (below).
    kafka_port = int(role_default("kafka", "kafka_broker_port"))
    if not cluster.chaos.tls:
        assert captured.ports[kafka_port].hits > 0, runner.Report(capture=captured).text()
    if cluster.chaos.tls:
        # The TLS ports did carry those applicants (a member read them back) ...
        assert report.traffic is not None
        assert report.traffic.outcome == Outcome.SUCCEEDED, report.traffic.detail
        for port in runner.tls_ports():
            assert captured.ports[port].payload_bytes > 0, port
        # ... and so did the Storm workers' ports (tuples between workers on different nodes),
        # sealed: not even their packed batches inflate to an applicant (the capture tries) ...
        worker_bytes = [
            captured.ports[port].payload_bytes
            for port in runner.sealed_ports()
            if port in captured.ports
        ]
        assert sum(worker_bytes) > 0, report.text()
        # ... and never in clear.
        assert report.clear_text_on_tls_ports == [], report.text()


def test_the_pipeline_still_reconciles_exactly_afterwards(
    cluster: Cluster, report: runner.Report
) -> None:
    summary = cluster.chaos.reconcile()
    assert summary["reconciled"], summary["first_differences"]
    assert summary["differences"] == 0
    assert lost_from(summary) == 0
    assert summary["extra_rows"] == 0
    assert summary["published"] >= report.load["table_rows"]


def test_no_secret_reached_a_log_after_the_deploy_the_faults_and_the_attacks(
    cluster: Cluster, report: runner.Report
) -> None:
    """The rotations, restarts and failovers of the fault suite log too: the deploy suite's
    testinfra run saw the logs before them."""
    result, elapsed = run_testinfra(
        cluster,
        "tests/infra/test_infra_logs.py",
        *("-k", "test_no_secret_of_the_vault_is_in_a_journal_or_log"),
    )
    assert result.returncode == 0, result.stdout[-6000:]
    FIGURES["Vault secrets in the logs at the end"] = (
        f"{result.stdout.strip().splitlines()[-1]} ({elapsed:.0f} s)"
    )
