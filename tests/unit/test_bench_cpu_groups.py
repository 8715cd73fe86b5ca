"""The bench's CPU groups count the stack's own shared daemons, not another's of the same kind."""

from __future__ import annotations

from lendstream.bench import ProcessInfo, stack_services

ROOT = "/home/someone/lendstream/.cache/stack"


def test_only_daemons_under_the_stacks_directory_count() -> None:
    table = {
        pid: ProcessInfo(pid, 1, cmdline, cpu)
        for pid, cmdline, cpu in [
            (10, f"java -Dhbase.log.dir={ROOT}/logs org.apache.hadoop.hbase.Main", 4.0),
            (11, f"java -Dkafka.logs.dir={ROOT}/logs kafka.Kafka", 2.0),
            # a simulated cluster node's daemons, seen in this host's /proc
            (20, "java -Dhbase.log.dir=/var/log/hbase org.apache.hadoop.hbase.Main", 9.0),
            (21, "java -Dkafka.logs.dir=/var/log/lendstream/kafka kafka.Kafka", 9.0),
            (30, f"vim {ROOT}/notes", 1.0),
        ]
    }
    assert stack_services(table, ROOT) == {"hbase": {10: 4.0}, "kafka": {11: 2.0}, "zookeeper": {}}
