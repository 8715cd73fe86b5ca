"""How each JVM daemon and tool starts from its bundle: ``java <jvm_options> -cp <classpath>
<main_class> <args>``, with the configuration and log configuration files it reads. The one
description: :func:`daemon_command` (the bundle checks) reads it, and
tests/unit/test_daemon_catalogue.py fails when a role's launcher (what the cluster and the
single-machine stack run) starts a daemon with another main class or log configuration.

Placeholders, filled in by whoever starts a daemon:
  {bundle}   the bundle directory on that machine
  {conf_dir} the daemon's rendered configuration directory (outside the bundle)
  {log_dir}  the daemon's log directory
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lendstream.stack.artifacts.errors import BundleError

BUNDLE_JSON_NAME = "bundle.json"


@dataclass(frozen=True)
class Daemon:
    """How to start one JVM process from a bundle: ``java <jvm_options> -cp <classpath> <main>``."""

    main_class: str
    classpath: tuple[str, ...]
    args: tuple[str, ...] = ()
    jvm_options: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class BundleSpec:
    """One bundle's daemons and tools, and how its classpaths are checked."""

    name: str
    logging_backend: str
    daemons: dict[str, Daemon]
    tools: dict[str, Daemon] = field(default_factory=dict)
    # Names of the bundle directories whose jars are never on one classpath together with
    # another directory's (each such set must carry exactly one SLF4J binding).
    classpath_sets: tuple[tuple[str, ...], ...] = (("lib",),)
    notes: tuple[str, ...] = ()


# HBase 2.6 and Hadoop 3.4 reach into JDK internals; these are the module openings their own
# launch scripts add on Java 17 (harmless where not needed).
JDK17_OPENS = (
    "-XX:+IgnoreUnrecognizedVMOptions",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
)

ZOOKEEPER = BundleSpec(
    name="zookeeper",
    logging_backend="logback (logback.xml via -Dlogback.configurationFile)",
    daemons={
        "server": Daemon(
            main_class="org.apache.zookeeper.server.quorum.QuorumPeerMain",
            classpath=("{conf_dir}", "{bundle}/lib/*"),
            args=("{conf_dir}/zoo.cfg",),
            jvm_options=(
                "-Dzookeeper.log.dir={log_dir}",
                "-Dzookeeper.log.file=zookeeper.log",
                "-Dlogback.configurationFile={conf_dir}/logback.xml",
            ),
            note="zoo.cfg: set 4lw.commands.whitelist to include ruok for the health check",
        )
    },
    tools={
        "cli": Daemon("org.apache.zookeeper.ZooKeeperMain", ("{bundle}/lib/*",), ("-server",)),
        "version": Daemon("org.apache.zookeeper.Version", ("{bundle}/lib/*",)),
    },
)

KAFKA = BundleSpec(
    name="kafka",
    logging_backend="log4j2 (log4j2.xml via -Dlog4j2.configurationFile)",
    daemons={
        "server": Daemon(
            main_class="kafka.Kafka",
            classpath=("{bundle}/lib/*",),
            args=("{conf_dir}/server.properties",),
            jvm_options=(
                "-Dkafka.logs.dir={log_dir}",
                "-Dlog4j2.configurationFile={conf_dir}/log4j2.xml",
            ),
            note="KRaft: format the storage once (tool storage-format) before the first start",
        )
    },
    tools={
        "storage-format": Daemon(
            "kafka.tools.StorageTool",
            ("{bundle}/lib/*",),
            ("format", "--cluster-id", "<id>", "--config", "{conf_dir}/server.properties"),
            note="add --standalone for a single combined broker+controller",
        ),
        "storage-random-uuid": Daemon(
            "kafka.tools.StorageTool", ("{bundle}/lib/*",), ("random-uuid",)
        ),
        "topics": Daemon("org.apache.kafka.tools.TopicCommand", ("{bundle}/lib/*",)),
        "consumer-groups": Daemon(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", ("{bundle}/lib/*",)
        ),
        "metadata-quorum": Daemon(
            "org.apache.kafka.tools.MetadataQuorumCommand", ("{bundle}/lib/*",)
        ),
    },
)

_HBASE_CLASSPATH = ("{conf_dir}", "{bundle}/lib/*")
_HBASE_JVM = (
    *JDK17_OPENS,
    "-Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true",
    "-Dhbase.log.dir={log_dir}",
    "-Dhbase.home.dir={bundle}",
    "-Dlog4j2.configurationFile={conf_dir}/log4j2.properties",
)
HBASE = BundleSpec(
    name="hbase",
    logging_backend="log4j2 (log4j2.properties or .xml via -Dlog4j2.configurationFile)",
    daemons={
        "master": Daemon(
            "org.apache.hadoop.hbase.master.HMaster",
            _HBASE_CLASSPATH,
            ("start",),
            (*_HBASE_JVM, "-Dhbase.log.file=hbase-master.log"),
            note="standalone (hbase.cluster.distributed=false): master + regionserver in one JVM",
        ),
        "regionserver": Daemon(
            "org.apache.hadoop.hbase.regionserver.HRegionServer",
            _HBASE_CLASSPATH,
            ("start",),
            (*_HBASE_JVM, "-Dhbase.log.file=hbase-regionserver.log"),
        ),
        "thrift": Daemon(
            "org.apache.hadoop.hbase.thrift.ThriftServer",
            _HBASE_CLASSPATH,
            ("-threadpool", "-p", "9090", "start"),
            (*_HBASE_JVM, "-Dhbase.log.file=hbase-thrift.log"),
            note="Thrift 1, binary protocol, buffered transport: what happybase speaks",
        ),
    },
    tools={
        "version": Daemon("org.apache.hadoop.hbase.util.VersionInfo", _HBASE_CLASSPATH),
    },
)

_STORM_DAEMON_CLASSPATH = (
    "{bundle}/lib/*",
    "{bundle}/extlib/*",
    "{bundle}/extlib-daemon/*",
    "{conf_dir}",
)


def _storm_jvm(daemon_name: str) -> tuple[str, ...]:
    return (
        "-Dstorm.home={bundle}",
        "-Dstorm.log.dir={log_dir}",
        f"-Ddaemon.name={daemon_name}",
        f"-Dlogfile.name={daemon_name}.log",
        "-Dlog4j.configurationFile={conf_dir}/log4j2/cluster.xml",
        "-Djava.deserialization.disabled=true",
    )


STORM = BundleSpec(
    name="storm",
    logging_backend="log4j2 (cluster.xml for daemons, worker.xml for workers)",
    daemons={
        "nimbus": Daemon(
            "org.apache.storm.daemon.nimbus.Nimbus",
            _STORM_DAEMON_CLASSPATH,
            (),
            _storm_jvm("nimbus"),
        ),
        "supervisor": Daemon(
            "org.apache.storm.daemon.supervisor.Supervisor",
            _STORM_DAEMON_CLASSPATH,
            (),
            _storm_jvm("supervisor"),
            note=(
                "workers: {bundle}/lib-worker/* + {bundle}/extlib/* + $STORM_EXT_CLASSPATH + "
                "$STORM_CONF_DIR; set STORM_CONF_DIR={conf_dir} in the supervisor's environment "
                "and storm.log4j2.conf.dir: {conf_dir}/log4j2 (worker.xml) in storm.yaml"
            ),
        ),
    },
    tools={
        "version": Daemon("org.apache.storm.utils.VersionInfo", ("{bundle}/lib/*",)),
        "kill": Daemon("org.apache.storm.command.KillTopology", _STORM_DAEMON_CLASSPATH),
        "list": Daemon("org.apache.storm.command.ListTopologies", _STORM_DAEMON_CLASSPATH),
    },
    classpath_sets=(
        ("lib",),
        ("lib-worker",),
        ("lib-worker", "extlib-kafka"),
    ),
    notes=(
        "no UI and no logviewer: storm-webapp (and Storm's binary release) is not served by the "
        "Maven registry reachable here; nimbus's Thrift API (port 6627) answers instead",
        "extlib-kafka/ holds storm-kafka-client and kafka-clients for the JVM KafkaSpout; it is "
        "not on any classpath unless STORM_EXT_CLASSPATH={bundle}/extlib-kafka/* is set for the "
        "supervisor (workers inherit it) or its jars are copied into extlib/",
    ),
)

_HADOOP_CLASSPATH = ("{conf_dir}", "{bundle}/lib/*")
_HADOOP_JVM = (
    *JDK17_OPENS,
    "-Dhadoop.log.dir={log_dir}",
    "-Dhadoop.home.dir={bundle}",
    "-Dyarn.log.dir={log_dir}",
    "-Dlog4j.configuration=file:{conf_dir}/log4j.properties",
)


def _hadoop_daemon(main_class: str, log_file: str, *args: str) -> Daemon:
    return Daemon(
        main_class, _HADOOP_CLASSPATH, args, (*_HADOOP_JVM, f"-Dhadoop.log.file={log_file}")
    )


HADOOP = BundleSpec(
    name="hadoop",
    logging_backend="reload4j (log4j 1.2 API; log4j.properties via -Dlog4j.configuration)",
    daemons={
        "namenode": _hadoop_daemon(
            "org.apache.hadoop.hdfs.server.namenode.NameNode", "hadoop-namenode.log"
        ),
        "datanode": _hadoop_daemon(
            "org.apache.hadoop.hdfs.server.datanode.DataNode", "hadoop-datanode.log"
        ),
        "secondarynamenode": _hadoop_daemon(
            "org.apache.hadoop.hdfs.server.namenode.SecondaryNameNode",
            "hadoop-secondarynamenode.log",
        ),
        "journalnode": _hadoop_daemon(
            "org.apache.hadoop.hdfs.qjournal.server.JournalNode", "hadoop-journalnode.log"
        ),
        "zkfc": _hadoop_daemon(
            "org.apache.hadoop.hdfs.tools.DFSZKFailoverController", "hadoop-zkfc.log"
        ),
        "resourcemanager": _hadoop_daemon(
            "org.apache.hadoop.yarn.server.resourcemanager.ResourceManager",
            "yarn-resourcemanager.log",
        ),
        "nodemanager": Daemon(
            "org.apache.hadoop.yarn.server.nodemanager.NodeManager",
            _HADOOP_CLASSPATH,
            (),
            (*_HADOOP_JVM, "-Dhadoop.log.file=yarn-nodemanager.log"),
            note=(
                "containers: set yarn.application.classpath and mapreduce.application.classpath to "
                "{conf_dir},{bundle}/lib/* (the bundle is flat, not share/hadoop/*), and JAVA_HOME "
                "in yarn.nodemanager.env-whitelist / the NodeManager environment"
            ),
        ),
        "jobhistory": _hadoop_daemon(
            "org.apache.hadoop.mapreduce.v2.hs.JobHistoryServer", "mapred-jobhistory.log"
        ),
    },
    tools={
        "namenode-format": _hadoop_daemon(
            "org.apache.hadoop.hdfs.server.namenode.NameNode",
            "hadoop-namenode-format.log",
            "-format",
            "-nonInteractive",
        ),
        "fs": Daemon("org.apache.hadoop.fs.FsShell", _HADOOP_CLASSPATH),
        "dfsadmin": Daemon("org.apache.hadoop.hdfs.tools.DFSAdmin", _HADOOP_CLASSPATH),
        "yarn-application-cli": Daemon(
            "org.apache.hadoop.yarn.client.cli.ApplicationCLI", _HADOOP_CLASSPATH
        ),
        "yarn-node-cli": Daemon("org.apache.hadoop.yarn.client.cli.NodeCLI", _HADOOP_CLASSPATH),
        "distributedshell": Daemon(
            "org.apache.hadoop.yarn.applications.distributedshell.Client",
            _HADOOP_CLASSPATH,
            ("-jar", "{bundle}/lib/hadoop-yarn-applications-distributedshell-<version>.jar"),
            note="the client waits for the job; needs JAVA_HOME in the NodeManager's environment",
        ),
        "version": Daemon("org.apache.hadoop.util.VersionInfo", ("{bundle}/lib/*",)),
    },
)

BUNDLES: dict[str, BundleSpec] = {b.name: b for b in (ZOOKEEPER, KAFKA, HBASE, STORM, HADOOP)}


def daemon_command(
    bundle: Path,
    name: str,
    *,
    conf_dir: Path,
    log_dir: Path,
    java: str = "java",
    args: tuple[str, ...] | None = None,
    extra_jvm_options: tuple[str, ...] = (),
) -> list[str]:
    """The ``java`` command line for a daemon or tool of the bundle's component (named in its
    ``bundle.json``) as this catalogue describes it, with the placeholders filled in; ``args``
    replaces the default arguments and ``extra_jvm_options`` (heap size, …) come after the
    catalogue's own."""
    component = json.loads((bundle / BUNDLE_JSON_NAME).read_text())["component"]
    catalogued = BUNDLES[component].daemons | BUNDLES[component].tools
    if name not in catalogued:
        raise BundleError(f"{component}: no daemon or tool {name!r}")
    spec = asdict(catalogued[name])
    values = {"{bundle}": str(bundle), "{conf_dir}": str(conf_dir), "{log_dir}": str(log_dir)}

    def fill(text: str) -> str:
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    classpath = os.pathsep.join(fill(entry) for entry in spec["classpath"])
    chosen_args = spec["args"] if args is None else args
    return [
        java,
        *(fill(option) for option in spec["jvm_options"]),
        *extra_jvm_options,
        "-cp",
        classpath,
        spec["main_class"],
        *(fill(arg) for arg in chosen_args),
    ]
