"""Each real bundle runs its daemons' main classes far enough to prove its classpath complete:
ZooKeeper answers ``ruok``, Kafka formats KRaft storage, starts and creates a topic, Storm's
nimbus answers its Thrift API, HBase and Hadoop print their versions and Hadoop formats a
NameNode. Bundles come from the shared cache (built by Maven when missing)."""

from __future__ import annotations

import grp
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from bundle_processes import JavaProcess, run_java, wait_until
from local_processes import free_port
from render_playbook import run_render_playbook

from lendstream import pki
from lendstream.attacks import clients as attack_clients
from lendstream.chaos.cluster import role_constant
from lendstream.stack.artifacts import bundles, catalogue, files, jars, maven
from lendstream.stack.artifacts.errors import BundleError
from lendstream.stack.layout import CHECKOUT_ROOT

pytestmark = pytest.mark.stack

RENDER_TLS_PLAYBOOK = Path(__file__).with_name("render-hdfs-tls.yml")


def _command(
    bundle: Path, name: str, tmp_path: Path, args: tuple[str, ...] | None = None
) -> list[str]:
    (tmp_path / "logs").mkdir(exist_ok=True)
    return catalogue.daemon_command(
        bundle,
        name,
        conf_dir=tmp_path / "conf",
        log_dir=tmp_path / "logs",
        args=args,
        extra_jvm_options=("-Xmx512m",),
    )


@pytest.mark.parametrize("component", list(catalogue.BUNDLES))
def test_bundle_verifies_and_names_no_build_path(component: str, bundle) -> None:
    path = bundle(component)
    files.verify(path)
    text = (path / catalogue.BUNDLE_JSON_NAME).read_text()
    document = json.loads(text)
    assert document["component"] == component
    assert document["version"] == maven.bundle_version(component)
    assert str(bundles.cache_root()) not in text
    assert str(CHECKOUT_ROOT) not in text
    described = catalogue.BUNDLES[component]
    assert jars.netty_native_mismatches(path, described) == []
    classes = {
        daemon.main_class.replace(".", "/") + ".class"
        for daemon in (*described.daemons.values(), *described.tools.values())
    }
    assert _classes_found(path, classes) == classes


def _classes_found(bundle: Path, classes: set[str]) -> set[str]:
    found = set()
    for jar in bundle.rglob("*.jar"):
        with zipfile.ZipFile(jar) as archive:
            found |= classes & set(archive.namelist())
    return found


def test_tampered_real_bundle_fails_verify(bundle, tmp_path: Path) -> None:
    copy = tmp_path / "zookeeper-copy"
    shutil.copytree(bundle("zookeeper"), copy)
    files.verify(copy)
    victim = next((copy / "lib").glob("zookeeper-3*.jar"))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=re.escape(f"checksum mismatch lib/{victim.name}")):
        files.verify(copy)


def _four_letter_word(port: int, word: bytes) -> bytes:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
            connection.sendall(word)
            answer = b""
            while chunk := connection.recv(4096):
                answer += chunk
            return answer
    except OSError:
        return b""


def _start_zookeeper(bundle: Path, tmp_path: Path, start_java) -> int:
    port = free_port()
    conf = tmp_path / "conf"
    conf.mkdir(exist_ok=True)
    (conf / "zoo.cfg").write_text(
        f"tickTime=2000\ndataDir={tmp_path / 'zk-data'}\nclientPort={port}\n"
        "clientPortAddress=127.0.0.1\n4lw.commands.whitelist=ruok,srvr\n"
        "admin.enableServer=false\n"
    )
    process = start_java(_command(bundle, "server", tmp_path), "zookeeper")
    # ruok says imok as soon as the process listens; srvr reports a version only once it serves.
    wait_until(lambda: _four_letter_word(port, b"ruok") == b"imok", 60, "ZooKeeper ruok", process)
    wait_until(
        lambda: b"Zookeeper version:" in _four_letter_word(port, b"srvr"), 60, "srvr", process
    )
    return port


def test_zookeeper_answers_ruok(bundle, tmp_path: Path, start_java) -> None:
    path = bundle("zookeeper")
    port = _start_zookeeper(path, tmp_path, start_java)
    version = _four_letter_word(port, b"srvr").decode()
    assert f"Zookeeper version: {maven.bundle_version('zookeeper')}" in version
    files.verify(path)


def test_kafka_formats_kraft_starts_and_creates_a_topic(bundle, tmp_path: Path, start_java) -> None:
    path = bundle("kafka")
    broker, controller = free_port(), free_port()
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "server.properties").write_text(
        "process.roles=broker,controller\nnode.id=1\n"
        f"controller.quorum.bootstrap.servers=127.0.0.1:{controller}\n"
        f"listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}\n"
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{broker}\n"
        "controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n"
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
        f"log.dirs={tmp_path / 'kafka-data'}\noffsets.topic.replication.factor=1\n"
        "transaction.state.log.replication.factor=1\ntransaction.state.log.min.isr=1\n"
        "group.initial.rebalance.delay.ms=0\n"
    )
    # The log configuration the catalogue names (the kafka role renders the same file name).
    (conf / "log4j2.xml").write_text(
        '<Configuration><Appenders><Console name="out">'
        '<PatternLayout pattern="catalogued-log4j2 %p %m (%c)%n"/></Console></Appenders>'
        '<Loggers><Root level="info"><AppenderRef ref="out"/></Root></Loggers></Configuration>\n'
    )
    uuid = run_java(_command(path, "storage-random-uuid", tmp_path)).stdout.strip()
    assert len(uuid) == 22, uuid
    server_properties = str(conf / "server.properties")
    formatted = run_java(
        _command(
            path,
            "storage-format",
            tmp_path,
            ("format", "--cluster-id", uuid, "--config", server_properties, "--standalone"),
        )
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    assert (tmp_path / "kafka-data" / "meta.properties").is_file()

    process = start_java(_command(path, "server", tmp_path), "kafka")
    bootstrap = f"127.0.0.1:{broker}"

    def topic_created() -> bool:
        created = run_java(
            _command(
                path,
                "topics",
                tmp_path,
                (
                    "--bootstrap-server",
                    bootstrap,
                    "--create",
                    "--if-not-exists",
                    "--topic",
                    "bundle-check",
                    "--partitions",
                    "3",
                    "--replication-factor",
                    "1",
                ),
            ),
            timeout=60,
        )
        return created.returncode == 0

    wait_until(topic_created, 120, "Kafka topic creation", process)
    described = run_java(
        _command(
            path,
            "topics",
            tmp_path,
            ("--bootstrap-server", bootstrap, "--describe", "--topic", "bundle-check"),
        )
    )
    assert "PartitionCount: 3" in described.stdout, described.stdout + described.stderr
    assert "catalogued-log4j2 INFO" in process.log_path.read_text(errors="replace")
    files.verify(path)  # the broker wrote nothing into the bundle


def test_storm_nimbus_answers_its_thrift_api(bundle, tmp_path: Path, start_java) -> None:
    zookeeper = bundle("zookeeper")
    (tmp_path / "zk").mkdir()
    zk_port = _start_zookeeper(zookeeper, tmp_path / "zk", start_java)
    path = bundle("storm")
    version = run_java(_command(path, "version", tmp_path))
    assert f"Storm {maven.bundle_version('storm')}" in version.stdout, version.stdout

    thrift_port = free_port()
    conf = tmp_path / "conf"
    (conf / "log4j2").mkdir(parents=True)
    (conf / "storm.yaml").write_text(
        f'storm.zookeeper.servers: ["127.0.0.1"]\nstorm.zookeeper.port: {zk_port}\n'
        f'nimbus.seeds: ["127.0.0.1"]\nnimbus.thrift.port: {thrift_port}\n'
        f'storm.local.dir: "{tmp_path / "storm-local"}"\n'
        f'storm.log4j2.conf.dir: "{conf / "log4j2"}"\n'
        # Relative by default, i.e. inside storm.home: the bundle must stay as its manifest says.
        f'storm.metricstore.rocksdb.location: "{tmp_path / "storm-rocks"}"\n'
    )
    (conf / "log4j2" / "cluster.xml").write_text(
        '<Configuration><Appenders><Console name="out"><PatternLayout pattern="%d %p %c %m%n"/>'
        '</Console></Appenders><Loggers><Root level="info"><AppenderRef ref="out"/></Root>'
        "</Loggers></Configuration>\n"
    )
    process = start_java(_command(path, "nimbus", tmp_path), "nimbus")

    def nimbus_lists_topologies() -> bool:
        listed = run_java(_command(path, "list", tmp_path), timeout=60)
        return listed.returncode == 0 and "No topologies running" in listed.stdout

    wait_until(nimbus_lists_topologies, 180, "Storm nimbus Thrift list", process)
    files.verify(path)  # nimbus wrote nothing into the bundle


def test_storm_worker_classpath_has_storm_client_and_one_backend(bundle) -> None:
    path = bundle("storm")
    worker_jars = {jar.name for jar in (path / "lib-worker").glob("*.jar")}
    version = maven.bundle_version("storm")
    assert f"storm-client-{version}.jar" in worker_jars
    assert f"storm-server-{version}.jar" not in worker_jars
    kafka_jars = {jar.name for jar in (path / "extlib-kafka").glob("*.jar")}
    assert f"storm-kafka-client-{version}.jar" in kafka_jars
    assert not kafka_jars & worker_jars
    assert jars.logging_conflicts(path, catalogue.STORM) == []


def test_hbase_prints_its_version(bundle, tmp_path: Path) -> None:
    path = bundle("hbase")
    result = run_java(_command(path, "version", tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"HBase {maven.bundle_version('hbase')}" in result.stdout + result.stderr


def test_hadoop_prints_its_version_and_formats_a_namenode(bundle, tmp_path: Path) -> None:
    path = bundle("hadoop")
    version = run_java(_command(path, "version", tmp_path))
    assert f"Hadoop {maven.bundle_version('hadoop')}" in version.stdout, version.stdout
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "hdfs-site.xml").write_text(
        "<configuration><property><name>dfs.namenode.name.dir</name>"
        f"<value>file://{tmp_path / 'name'}</value></property></configuration>\n"
    )
    (conf / "core-site.xml").write_text(
        "<configuration><property><name>fs.defaultFS</name>"
        "<value>hdfs://127.0.0.1:8020</value></property></configuration>\n"
    )
    formatted = run_java(_command(path, "namenode-format", tmp_path), timeout=180)
    assert formatted.returncode == 0, formatted.stdout[-3000:] + formatted.stderr[-3000:]
    assert (tmp_path / "name" / "current" / "VERSION").is_file()


def _hbase_site(properties: dict[str, object]) -> str:
    body = "".join(
        f"<property><name>{name}</name><value>{value}</value></property>"
        for name, value in properties.items()
    )
    return f"<configuration>{body}</configuration>\n"


@pytest.mark.slow
def test_hbase_standalone_master_and_thrift_serve_happybase(
    bundle, tmp_path: Path, start_java
) -> None:
    import happybase  # noqa: PLC0415 - only this test needs it

    path = bundle("hbase")
    zk_port, thrift_port = free_port(), free_port()
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "hbase-site.xml").write_text(
        _hbase_site(
            {
                "hbase.cluster.distributed": "false",
                "hbase.rootdir": f"file://{tmp_path / 'hbase-root'}",
                "hbase.zookeeper.quorum": "127.0.0.1",
                "hbase.zookeeper.property.clientPort": zk_port,
                "hbase.zookeeper.property.dataDir": tmp_path / "hbase-zk",
                "hbase.master.port": free_port(),
                "hbase.master.info.port": free_port(),
                "hbase.regionserver.port": free_port(),
                "hbase.regionserver.info.port": free_port(),
                "hbase.thrift.info.port": free_port(),
                "hbase.unsafe.stream.capability.enforce": "false",
            }
        )
    )
    (conf / "log4j2.properties").write_text(
        "appender.console.type=Console\nappender.console.name=out\n"
        "appender.console.layout.type=PatternLayout\n"
        "appender.console.layout.pattern=%d %p %c{1} %m%n\n"
        "rootLogger=INFO,out\n"
    )
    master = start_java(_command(path, "master", tmp_path), "hbase-master")
    thrift = start_java(
        _command(path, "thrift", tmp_path, ("-threadpool", "-p", str(thrift_port), "start")),
        "hbase-thrift",
    )

    def table_written_and_read() -> bool:
        if thrift.process.poll() is not None:
            pytest.fail(f"Thrift server exited\n{thrift.log_tail()}")
        try:
            connection = happybase.Connection("127.0.0.1", thrift_port, timeout=20000)
            try:
                if b"bundle_check" not in connection.tables():
                    connection.create_table("bundle_check", {"d": {}})
                table = connection.table("bundle_check")
                table.put(b"row-1", {b"d:score": b"0.42"})
                return table.row(b"row-1") == {b"d:score": b"0.42"}
            finally:
                connection.close()
        except Exception:  # not up yet: Thrift or the master still starting
            return False

    wait_until(table_written_and_read, 240, "HBase table via Thrift", master)
    files.verify(path)  # master and Thrift server wrote nothing into the bundle


def _hadoop_xml(properties: dict[str, object]) -> str:
    return _hbase_site(properties)


@pytest.mark.slow
def test_hdfs_namenode_and_datanode_store_a_file(bundle, tmp_path: Path, start_java) -> None:
    path = bundle("hadoop")
    rpc_port = free_port()
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "core-site.xml").write_text(
        _hadoop_xml({"fs.defaultFS": f"hdfs://127.0.0.1:{rpc_port}"})
    )
    (conf / "hdfs-site.xml").write_text(
        _hadoop_xml(
            {
                "dfs.namenode.name.dir": f"file://{tmp_path / 'name'}",
                "dfs.datanode.data.dir": f"file://{tmp_path / 'data'}",
                "dfs.replication": 1,
                "dfs.namenode.http-address": f"127.0.0.1:{free_port()}",
                "dfs.datanode.address": f"127.0.0.1:{free_port()}",
                "dfs.datanode.http.address": f"127.0.0.1:{free_port()}",
                "dfs.datanode.ipc.address": f"127.0.0.1:{free_port()}",
                "dfs.namenode.safemode.extension": 0,
            }
        )
    )
    (conf / "log4j.properties").write_text(
        "log4j.rootLogger=INFO,out\nlog4j.appender.out=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.out.Target=System.err\n"
        "log4j.appender.out.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.out.layout.ConversionPattern=%d %p %c{1} %m%n\n"
    )
    formatted = run_java(_command(path, "namenode-format", tmp_path), timeout=180)
    assert formatted.returncode == 0, formatted.stdout[-3000:] + formatted.stderr[-3000:]
    namenode = start_java(_command(path, "namenode", tmp_path), "namenode")
    start_java(_command(path, "datanode", tmp_path), "datanode")
    local_file = tmp_path / "hello.txt"
    local_file.write_text("lendstream bundle check\n")

    def file_round_trips() -> bool:
        put = run_java(
            _command(path, "fs", tmp_path, ("-put", "-f", str(local_file), "/hello.txt")),
            timeout=90,
        )
        if put.returncode != 0:
            return False
        cat = run_java(_command(path, "fs", tmp_path, ("-cat", "/hello.txt")), timeout=90)
        return cat.returncode == 0 and "lendstream bundle check" in cat.stdout

    wait_until(file_round_trips, 240, "HDFS put and cat", namenode)
    files.verify(path)  # NameNode and DataNode wrote nothing into the bundle


LOOPBACK_NAMES = pki.HostNames("localhost", ("localhost",), ("127.0.0.1",))


def _install_host_certificate(pki_dir: Path, ca: pki.Issued) -> str:
    """A new key and certificate for 127.0.0.1 signed by ``ca``, as role pki installs them;
    returns the certificate (PEM)."""
    host = pki.issue_host_certificate(ca, LOOPBACK_NAMES)
    (pki_dir / "node.crt").write_text(host.cert_pem)
    (pki_dir / "node.key").write_text(host.key_pem)
    return host.cert_pem


def _hdfs_tls_files(tmp_path: Path, conf: Path, ca: pki.Issued) -> dict[str, str]:
    """The hdfs role's web TLS files (tasks/tls.yml, as site.yml runs it with HTTPS_ONLY) in
    ``conf``: a PKCS12 keystore and truststore made from a host certificate for 127.0.0.1 signed
    by ``ca`` (lendstream.pki, as role pki makes them), ssl-server.xml, ssl-client.xml. Returns
    the render playbook's variables (pki_dir: the PEM files)."""
    pki_dir = tmp_path / "pki"
    pki_dir.mkdir()
    (pki_dir / "ca.crt").write_text(ca.cert_pem)
    _install_host_certificate(pki_dir, ca)
    render = {
        "conf_dir": str(conf),
        "bin_dir": str(tmp_path / "bin"),
        "pki_dir": str(pki_dir),
        "group": grp.getgrgid(os.getgid()).gr_name,
        "password": secrets.token_urlsafe(16),
    }
    (tmp_path / "bin").mkdir()
    first = run_render_playbook(RENDER_TLS_PLAYBOOK, render, timeout_s=120, inventory="localhost,")
    assert "changed=4" in first, first[-2000:]  # directory, maker, stores, the two files
    again = run_render_playbook(RENDER_TLS_PLAYBOOK, render, timeout_s=120, inventory="localhost,")
    assert "changed=0" in again, again[-2000:]  # the stores already hold the certificate
    return render


@pytest.mark.slow
def test_namenode_refuses_rpc_from_hosts_outside_its_policy_webhdfs_users_and_plain_http(
    bundle, tmp_path: Path, start_java
) -> None:
    """The hdfs role's settings on a real NameNode, met by the attack suite's own clients:
    service-level authorization with a hosts list (hadoop-policy.xml; the NameNode listens on
    127.0.0.1, the same call from 127.0.0.2, another loopback address, is outside the list),
    WebHDFS's user pattern matching no name, and HTTPS only (dfs.http.policy HTTPS_ONLY) with the
    keystore the role makes: the web port speaks TLS with the test CA's certificate, the HTTP
    port is not served, a plain HTTP request to the HTTPS port gets no HTTP answer, the role's
    health-gate script reads the NameNode's state over HTTPS, and a renewed certificate (the
    stores rebuilt by the role, as the rotation does) is served without a restart."""
    path = bundle("hadoop")
    rpc_port, http_port, https_port = free_port(), free_port(), free_port()
    conf = tmp_path / "conf"
    conf.mkdir()
    ca = pki.new_ca("lendstream test CA")
    render = _hdfs_tls_files(tmp_path, conf, ca)
    ca_file = Path(render["pki_dir"]) / "ca.crt"
    (conf / "core-site.xml").write_text(
        _hadoop_xml(
            {"fs.defaultFS": f"hdfs://127.0.0.1:{rpc_port}", "hadoop.security.authorization": True}
        )
    )
    (conf / "hadoop-policy.xml").write_text(
        _hadoop_xml(
            {
                "security.service.authorization.default.acl": "*",
                "security.service.authorization.default.hosts": "127.0.0.1",
            }
        )
    )
    (conf / "hdfs-site.xml").write_text(
        _hadoop_xml(
            {
                "dfs.namenode.name.dir": f"file://{tmp_path / 'name'}",
                "dfs.namenode.http-address": f"127.0.0.1:{http_port}",
                "dfs.namenode.https-address": f"127.0.0.1:{https_port}",
                "dfs.http.policy": "HTTPS_ONLY",
                "dfs.webhdfs.user.provider.user.pattern": "(?!)",
            }
        )
    )
    (conf / "log4j.properties").write_text(
        "log4j.rootLogger=INFO,out\nlog4j.appender.out=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.out.Target=System.err\n"
        "log4j.appender.out.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.out.layout.ConversionPattern=%d %p %c{1} %m%n\n"
    )
    formatted = run_java(_command(path, "namenode-format", tmp_path), timeout=180)
    assert formatted.returncode == 0, formatted.stdout[-3000:] + formatted.stderr[-3000:]
    namenode = start_java(_command(path, "namenode", tmp_path), "namenode")
    answers: dict[str, tuple[str, str]] = {}

    def both_answered() -> bool:
        for source in ("127.0.0.1", "127.0.0.2"):
            answers[source] = attack_clients.hadoop_rpc_call(
                ["127.0.0.1"], rpc_port, {"source": source}
            )
        return all(outcome != attack_clients.Outcome.FAILED for outcome, _ in answers.values())

    wait_until(both_answered, 180, "the NameNode's RPC answers", namenode)
    assert answers["127.0.0.1"][0] == attack_clients.Outcome.SUCCEEDED, answers
    outcome, detail = answers["127.0.0.2"]
    assert outcome == attack_clients.Outcome.DENIED, answers
    assert "127.0.0.2 is not authorized" in detail, detail
    https = {"scheme": "https", "ca_file": str(ca_file)}
    # The role's health gate (tasks/health.yml) reads the NameNode's state over HTTPS with the CA.
    gate: dict[str, Any] = {}

    def gate_sees_it_active() -> bool:
        answer = subprocess.run(
            [
                "python3",
                "-c",
                role_constant("hdfs", "__hdfs_cluster_state_script"),
                *("https", str(https_port), str(ca_file), "127.0.0.1"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        gate.update(json.loads(answer.stdout))
        return bool(gate["active"])

    wait_until(gate_sees_it_active, 120, "the health gate's HTTPS answer", namenode)
    assert gate["states"] == {"127.0.0.1": "active"}, gate
    webhdfs: dict[str, tuple[str, str]] = {}

    def webhdfs_answered() -> bool:  # its first request loads WebHDFS (seconds on a busy machine)
        named = {**https, "user": "hdfs"}
        webhdfs["named"] = attack_clients.webhdfs_liststatus(["127.0.0.1"], https_port, named)
        return webhdfs["named"][0] != attack_clients.Outcome.FAILED

    wait_until(webhdfs_answered, 120, "WebHDFS over HTTPS", namenode)
    named = webhdfs["named"]
    assert named[0] == attack_clients.Outcome.DENIED, named
    assert '"hdfs" does not belong to the domain' in named[1], named
    # Hadoop 3.4.2 has no switch for WebHDFS: anonymous requests still run as the static web user.
    anonymous = attack_clients.webhdfs_liststatus(["127.0.0.1"], https_port, https)
    assert anonymous[0] == attack_clients.Outcome.SUCCEEDED, anonymous
    # HTTPS only: plain HTTP to the HTTPS port gets no HTTP answer, the HTTP port is not served,
    # and a client that does not trust the deployment's CA refuses the certificate.
    plain = attack_clients.plain_http(["127.0.0.1"], https_port, {"path": "/jmx"})
    assert plain[0] == attack_clients.Outcome.PLAINTEXT_REFUSED, plain
    assert not _port_open(http_port)
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(f"https://127.0.0.1:{https_port}/jmx", timeout=10)
    _renewed_certificate_is_served(render, ca, https_port, namenode)


def _renewed_certificate_is_served(
    render: dict[str, str], ca: pki.Issued, https_port: int, namenode: JavaProcess
) -> None:
    """Rotation: a new certificate of the same CA, the stores rebuilt by the role; the NameNode's
    web server reloads its keystore by itself (ssl.server.stores.reload.interval, 10 s)."""
    served = ssl.get_server_certificate(("127.0.0.1", https_port), timeout=10)
    renewed = _install_host_certificate(Path(render["pki_dir"]), ca)
    rebuilt = run_render_playbook(
        RENDER_TLS_PLAYBOOK, render, timeout_s=120, inventory="localhost,"
    )
    assert "changed=1" in rebuilt, rebuilt[-2000:]  # the stores alone
    assert _der(served) != _der(renewed)
    wait_until(
        lambda: (
            _der(ssl.get_server_certificate(("127.0.0.1", https_port), timeout=10)) == _der(renewed)
        ),
        60,
        "the renewed certificate served",
        namenode,
    )


def _der(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.slow
def test_yarn_runs_a_distributed_shell_job(bundle, tmp_path: Path, start_java) -> None:
    path = bundle("hadoop")
    version = maven.bundle_version("hadoop")
    java_home = Path(shutil.which("java") or "java").resolve().parents[1]
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "core-site.xml").write_text(_hadoop_xml({"fs.defaultFS": "file:///"}))
    rm = {
        name: f"127.0.0.1:{free_port()}"
        for name in ("address", "scheduler.address", "resource-tracker.address", "admin.address")
    }
    (conf / "yarn-site.xml").write_text(
        _hadoop_xml(
            {
                "yarn.resourcemanager.hostname": "127.0.0.1",
                **{f"yarn.resourcemanager.{name}": value for name, value in rm.items()},
                "yarn.resourcemanager.webapp.address": f"127.0.0.1:{free_port()}",
                "yarn.nodemanager.address": f"127.0.0.1:{free_port()}",
                "yarn.nodemanager.localizer.address": f"127.0.0.1:{free_port()}",
                "yarn.nodemanager.webapp.address": f"127.0.0.1:{free_port()}",
                "yarn.nodemanager.local-dirs": tmp_path / "nm-local",
                "yarn.nodemanager.log-dirs": tmp_path / "nm-logs",
                "yarn.nodemanager.resource.memory-mb": 4096,
                "yarn.nodemanager.resource.cpu-vcores": 2,
                "yarn.nodemanager.vmem-check-enabled": "false",
                "yarn.scheduler.minimum-allocation-mb": 128,
                "yarn.application.classpath": f"{conf},{path}/lib/*",
                "yarn.nodemanager.env-whitelist": "JAVA_HOME,HADOOP_CONF_DIR,PATH",
                "yarn.resourcemanager.connect.max-wait.ms": 10000,
                "yarn.resourcemanager.connect.retry-interval.ms": 1000,
            }
        )
    )
    (conf / "capacity-scheduler.xml").write_text(
        _hadoop_xml(
            {
                "yarn.scheduler.capacity.root.queues": "default",
                "yarn.scheduler.capacity.root.default.capacity": 100,
                "yarn.scheduler.capacity.maximum-am-resource-percent": 0.5,
            }
        )
    )
    (conf / "log4j.properties").write_text(
        "log4j.rootLogger=INFO,out\nlog4j.appender.out=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.out.Target=System.err\n"
        "log4j.appender.out.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.out.layout.ConversionPattern=%d %p %c{1} %m%n\n"
    )
    env = {**os.environ, "JAVA_HOME": str(java_home), "HADOOP_CONF_DIR": str(conf)}
    resourcemanager = start_java(_command(path, "resourcemanager", tmp_path), "rm", env)
    start_java(_command(path, "nodemanager", tmp_path), "nm", env)

    def node_registered() -> bool:
        try:
            nodes = run_java(_command(path, "yarn-node-cli", tmp_path, ("-list",)), timeout=60)
        except subprocess.TimeoutExpired:
            return False
        return "Total Nodes:1" in nodes.stdout

    wait_until(node_registered, 180, "NodeManager registered", resourcemanager)
    jar = path / "lib" / f"hadoop-yarn-applications-distributedshell-{version}.jar"
    job = run_java(
        _command(
            path,
            "distributedshell",
            tmp_path,
            (
                "-jar",
                str(jar),
                "-shell_command",
                "echo",
                "-shell_args",
                "bundle-check",
                "-num_containers",
                "1",
                "-master_memory",
                "256",
                "-container_memory",
                "128",
                "-timeout",
                "240000",
            ),
        ),
        timeout=300,
    )
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-5000:]
    container_logs = "".join(
        log.read_text(errors="replace") for log in (tmp_path / "nm-logs").rglob("stdout")
    )
    assert "bundle-check" in container_logs
    files.verify(path)  # ResourceManager, NodeManager and the job wrote nothing into it


JMX_EXPORTER_DIR = "jmx-exporter"
JMX_EXPORTER_POM_VERSION = re.compile(r"<jmx\.exporter\.version>([^<]+)</jmx\.exporter\.version>")


def jmx_exporter_version() -> str:
    """The agent version every bundle's jmx-exporter/pom.xml names (they must agree)."""
    versions = {
        component: JMX_EXPORTER_POM_VERSION.findall(
            (maven.DESCRIPTOR_ROOT / component / JMX_EXPORTER_DIR / "pom.xml").read_text()
        )
        for component in catalogue.BUNDLES
    }
    distinct = {tuple(found) for found in versions.values()}
    assert len(distinct) == 1, versions
    (only,) = distinct
    assert len(only) == 1, versions
    return only[0]


@pytest.mark.parametrize("component", list(catalogue.BUNDLES))
def test_bundle_carries_the_jmx_exporter_agent_checksummed(component: str, bundle) -> None:
    path = bundle(component)
    agent = f"jmx_prometheus_javaagent-{jmx_exporter_version()}.jar"
    assert sorted(p.name for p in (path / JMX_EXPORTER_DIR).iterdir()) == [agent]
    manifest = (path / files.MANIFEST_NAME).read_text().splitlines()
    assert any(line.endswith(f"  {JMX_EXPORTER_DIR}/{agent}") for line in manifest)
    with zipfile.ZipFile(path / JMX_EXPORTER_DIR / agent) as archive:
        jar_manifest = archive.read("META-INF/MANIFEST.MF").decode()
    assert "Premain-Class: io.prometheus.jmx" in jar_manifest


def test_roles_load_the_agent_version_the_bundles_carry() -> None:
    """Each role's default agent path names the jar jmx-exporter/pom.xml resolves."""
    agent = f"/jmx-exporter/jmx_prometheus_javaagent-{jmx_exporter_version()}.jar"
    declared = {
        defaults.parent.parent.name: line.split(":", 1)[1].strip().strip('"')
        for defaults in (CHECKOUT_ROOT / "ansible" / "roles").glob("*/defaults/main.yml")
        for line in defaults.read_text().splitlines()
        if re.match(r"^\w+_jmx_exporter_agent_jar:", line)
    }
    assert {"zookeeper", "kafka", "hbase", "storm"} <= set(declared)
    assert {role: path.endswith(agent) for role, path in declared.items()} == dict.fromkeys(
        declared, True
    )
