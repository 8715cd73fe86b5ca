"""``python -m lendstream.bench``: the baseline loop (A) against the Storm topology (B).

Prints figures; it is not a test. On identical input (the same N preloaded applicants) it
alternates rounds of A and B and reports each throughput, R = B/A (median over rounds),
CPU-seconds per 1,000 applicants (summed over the processes involved, from /proc), and then
p50/p99 end-to-end latency (Kafka record timestamp → HBase cell write time) of the topology fed by
a paced producer at several fractions of A's throughput (25/50/80/100 % by default): the curve
of latency against load, written with the run's parameters under ``.cache/bench/``
(lendstream.bench_curve), and next to each point where the time goes: per-stage p50/p99 measured
by the components themselves (lendstream.pipeline.timing: Kafka timestamp → spout poll, the
spout's gathering, each multilang hop, each bolt's work, the risk-service call, the HBase write)
and the publish (record timestamp → the broker's ack) measured by the bench's producer.

How B is timed: the topology is submitted once, reading the bench's B topic. Each round it is
deactivated, a copy of the N applicants is written to that topic, and the clock starts when the
topology is activated; it stops when the spout's committed offsets reach the end of the topic —
which happens only when every batch up to there is stored (at-least-once bookkeeping).
A is timed from its first poll to its last commit, in this process.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import happybase
import requests
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from lendstream.bench_curve import LatencyPoint, RunParameters, write_curve
from lendstream.bench_producer import encode, produce, tag_member_ids
from lendstream.hbase_spread import render, spread
from lendstream.kafka_topics import end_offsets, wait_until_drained
from lendstream.model.synthetic import generate
from lendstream.pipeline.baseline import run_baseline
from lendstream.pipeline.flow import Applicant, SourceRecord, triage
from lendstream.pipeline.hbase_writer import TABLE, member_id_of
from lendstream.pipeline.scoring import RiskServiceSettings
from lendstream.pipeline.timing import (
    SPOUT_GATHER_STAGE,
    SPOUT_POLL_STAGE,
    StageSamples,
    now_ms,
    read_samples,
)
from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.stack import runtime
from lendstream.stack.layout import StackLayout
from lendstream.stack.provision import create_presplit_table, hbase_tables
from lendstream.stack.topology import deploy_local, local_nimbus, local_settings
from lendstream.storm.deployment import kill
from lendstream.storm.nimbus import NimbusSession

PARTITIONS = 4
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Shared services whose CPU counts, by a marker in their command line.
SHARED_SERVICES: dict[str, str] = {
    "hbase": "org.apache.hadoop.hbase",
    "kafka": "kafka.Kafka",
    "zookeeper": "org.apache.zookeeper.server",
}
WORKER_MAIN_CLASS = "org.apache.storm.daemon.worker.Worker"
WAIT_TIMEOUT_S = 900.0
COMMIT_POLL_INTERVAL_S = 0.1


# ---- CPU accounting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    parent: int
    cmdline: str
    cpu_s: float


def _process_table() -> dict[int, ProcessInfo]:
    """Every process we may read, with its parent and CPU seconds so far (/proc/<pid>/stat)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="ignore")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # fields from the 3rd on: state, ppid, …
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
        table[int(entry.name)] = ProcessInfo(int(entry.name), int(fields[1]), cmdline, cpu)
    return table


def _descendants(table: dict[int, ProcessInfo], root: int) -> set[int]:
    found = {root} if root in table else set()
    grew = True
    while grew:
        more = {p.pid for p in table.values() if p.parent in found} - found
        found |= more
        grew = bool(more)
    return found


def stack_services(table: dict[int, ProcessInfo], stack_root: str) -> dict[str, dict[int, float]]:
    """Shared service → pid → CPU seconds, of the stack's own daemons only: their command lines
    name the stack's directory (log and config paths). Other daemons on the machine (another
    engineer's stack, a simulated cluster's nodes, whose processes this host's /proc lists too)
    do not count."""
    return {
        name: {
            process.pid: process.cpu_s
            for process in table.values()
            if marker in process.cmdline and stack_root in process.cmdline
        }
        for name, marker in SHARED_SERVICES.items()
    }


def cpu_snapshot(risk_pid: int, topology_name: str = "") -> dict[str, dict[int, float]]:
    """Group → pid → CPU seconds: this process (the baseline loop), our risk service, our
    topology's worker JVM and each of its Python components, and the stack's shared services."""
    table = _process_table()
    groups: dict[str, dict[int, float]] = {"this process": {}, "risk service": {}}
    groups |= stack_services(table, str(StackLayout.default().root))
    groups["this process"][os.getpid()] = table[os.getpid()].cpu_s
    for pid in _descendants(table, risk_pid):
        groups["risk service"][pid] = table[pid].cpu_s
    ours = [p for p in table.values() if topology_name and f"{topology_name}-" in p.cmdline]
    for process in ours:  # the supervisor starts LogWriter, which starts the worker JVM
        if "org.apache.storm.LogWriter" in process.cmdline:
            groups.setdefault("storm LogWriter", {})[process.pid] = process.cpu_s
        elif WORKER_MAIN_CLASS in process.cmdline:
            groups.setdefault("storm worker JVM", {})[process.pid] = process.cpu_s
            for pid in _descendants(table, process.pid) - {process.pid}:
                component = table[pid].cmdline.split()[-1].rsplit(".", 1)[-1]
                groups.setdefault(f"python {component}", {})[pid] = table[pid].cpu_s
    return groups


def cpu_between(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    """CPU seconds each group used between the snapshots (new processes count in full)."""
    return {
        name: sum(cpu - before.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
        for name, pids in after.items()
    }


# ---- Kafka and HBase helpers ------------------------------------------------------------------


def create_topic(bootstrap: str, topic: str, partitions: int = PARTITIONS) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()
    deadline = time.monotonic() + 30
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        while len(consumer.partitions_for_topic(topic) or ()) < partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} has no metadata after 30 s")
            time.sleep(0.2)
    finally:
        consumer.close()


def drop_run_data(
    bootstrap: str, topics: Sequence[str], hbase: TopologyConf, tables: Sequence[str]
) -> None:
    """Delete a run's topics and tables (best effort: a leftover is only disk space)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    try:
        admin.delete_topics(list(topics))
    except KafkaError as error:
        print(f"could not delete topics {list(topics)}: {error}", file=sys.stderr)
    finally:
        admin.close()
    connection = happybase.Connection(hbase.hbase_host, hbase.hbase_port, timeout=60_000)
    try:
        existing = {name.decode() for name in connection.tables()}
        for table in tables:
            if table in existing:
                connection.delete_table(table, disable=True)
    finally:
        connection.close()


def recreate_table(conf: TopologyConf) -> None:
    """A fresh table shaped like the deployment's ``members``: pre-split into the hbase role's
    regions on the salted row key (RegionSplitter through the stack's bin/hbase-tool)."""
    connection = happybase.Connection(conf.hbase_host, conf.hbase_port, timeout=60_000)
    try:
        if conf.hbase_table.encode() in connection.tables():
            connection.delete_table(conf.hbase_table, disable=True)
    finally:
        connection.close()
    layout = StackLayout.default()
    members = next(t for t in hbase_tables(layout) if t.name == TABLE)
    create_presplit_table(layout, replace(members, name=conf.hbase_table))


def report_spread(conf: TopologyConf) -> None:
    """Rows and write requests per region and RegionServer of the table B wrote
    (lendstream.hbase_spread; the RegionServers' own counts, from their /jmx)."""
    layout = StackLayout.default()
    regionservers = [f"{layout.host}:{layout.ports.hbase_regionserver_info}"]
    regions = spread(conf.hbase_host, conf.hbase_port, conf.hbase_table, regionservers, True)
    print(render(conf.hbase_table, regions), flush=True)


@dataclass(frozen=True)
class StoredRow:
    member_id: str
    decision: str
    kafka_timestamp_ms: int
    written_ms: int


def stored_rows(conf: TopologyConf, since_ms: int = 0) -> list[StoredRow]:
    """Rows whose decision was written at or after ``since_ms`` (HBase cell time)."""
    connection = happybase.Connection(conf.hbase_host, conf.hbase_port, timeout=120_000)
    try:
        table = connection.table(conf.hbase_table)
        rows = []
        columns = [b"result:decision", b"result:kafka_timestamp_ms"]
        for key, cells in table.scan(columns=columns, include_timestamp=True, batch_size=2000):
            decision, written = cells[b"result:decision"]
            if written >= since_ms:
                kafka_ms = int(cells[b"result:kafka_timestamp_ms"][0])
                rows.append(StoredRow(member_id_of(key), decision.decode(), kafka_ms, written))
        return rows
    finally:
        connection.close()


# ---- the rounds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    label: str
    records: int
    wall_s: float
    cpu_s: dict[str, float]

    @property
    def throughput(self) -> float:
        return self.records / self.wall_s

    @property
    def cpu_per_thousand(self) -> float:
        return sum(self.cpu_s.values()) / self.records * 1000


def round_a(conf: TopologyConf, records: int, number: int, risk_pid: int) -> Round:
    conf = replace(conf, kafka_group_id=f"{conf.kafka_group_id}-a{number}")
    before = cpu_snapshot(risk_pid)
    run = run_baseline(conf, records, timeout_s=WAIT_TIMEOUT_S)
    return Round("A", run.records, run.wall_s, cpu_between(before, cpu_snapshot(risk_pid)))


def wait_committed(conf: TopologyConf, targets: dict[int, int], timeout_s: float) -> None:
    """Bounded wait until the topology's group has committed ``targets``, polled every 0.1 s
    (the rounds are timed to it); the consumer asking never joins the group."""
    wait_until_drained(
        conf.kafka_bootstrap_servers,
        conf.kafka_topic,
        conf.kafka_group_id,
        timeout_s,
        settle_s=0.0,
        up_to=targets,
        poll_interval_s=COMMIT_POLL_INTERVAL_S,
    )


def round_b(
    conf: TopologyConf, applicants: Sequence[Any], nimbus: Any, name: str, risk_pid: int
) -> Round:
    nimbus.deactivate(name)
    time.sleep(2.0)  # let the spout see the deactivation before the copy lands
    produce(conf.kafka_bootstrap_servers, conf.kafka_topic, applicants)
    targets = end_offsets(conf.kafka_bootstrap_servers, conf.kafka_topic)
    before = cpu_snapshot(risk_pid, name)
    start = time.monotonic()
    nimbus.activate(name)
    wait_committed(conf, targets, WAIT_TIMEOUT_S)
    wall = time.monotonic() - start
    cpu = cpu_between(before, cpu_snapshot(risk_pid, name))
    cpu.pop("this process")  # it only waits, and polls the committed offsets
    return Round("B", len(applicants), wall, cpu)


def wait_topology_consuming(conf: TopologyConf, timeout_s: float) -> None:
    """Submit returns before the worker runs: wait until a probe record is committed past."""
    produce(conf.kafka_bootstrap_servers, conf.kafka_topic, ["warm-up probe: not JSON"])
    targets = end_offsets(conf.kafka_bootstrap_servers, conf.kafka_topic)
    wait_committed(conf, targets, timeout_s)


@dataclass(frozen=True)
class RiskServiceProcess:
    settings: RiskServiceSettings
    pid: int  # gunicorn's master; its workers are its children


@contextmanager
def risk_service(
    model_dir: Path | None, work_dir: Path, workers: int = 2, start_timeout_s: float = 90.0
) -> Iterator[RiskServiceProcess]:
    """Run the risk service under gunicorn with a fresh token file; yields how to reach it."""
    work_dir.mkdir(parents=True, exist_ok=True)
    token_file = work_dir / "risk-token"
    token_file.write_text(secrets.token_urlsafe(24) + "\n")
    token_file.chmod(0o600)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENDSTREAM_")}
    env |= {
        "LENDSTREAM_RISK_TOKEN_FILE": str(token_file),
        "LENDSTREAM_RISK_BIND": f"127.0.0.1:{port}",
        "LENDSTREAM_RISK_WORKERS": str(workers),
    }
    if model_dir is not None:
        env["LENDSTREAM_MODEL_DIR"] = str(model_dir)
    url = f"http://127.0.0.1:{port}"
    log_path = work_dir / "risk-service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "lendstream.services.risk_service"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"risk service did not start: {log_path.read_text()[-2000:]}")
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still loading the model
                pass
            time.sleep(0.3)
        yield RiskServiceProcess(RiskServiceSettings.from_token_file(url, token_file), process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(20)


@dataclass(frozen=True)
class BenchSetup:
    run_id: str
    conf_a: TopologyConf
    conf_b: TopologyConf
    applicants: list[Any]
    valid: int


def bench_applicants(count: int, seed: int, malformed_rate: float) -> list[Any]:
    """The bench's applicants: synthetic (lendstream.model.synthetic), ``malformed_rate`` of
    them malformed on purpose; the same for the single-machine and the cluster bench."""
    return list(generate(count, seed, malformed_rate))


def valid_count(records: Sequence[Any]) -> int:
    """How many of the records the topology stores (the rest go to the dead letters)."""
    return sum(
        1
        for r in records
        if isinstance(triage(SourceRecord("t", 0, 0, 0, encode(r).decode())), Applicant)
    )


def prepare(args: argparse.Namespace, risk: RiskServiceSettings, timing_dir: Path) -> BenchSetup:
    """Topics and tables of this run; the applicants preloaded into A's topic. The topology
    (B) logs its stage timings to ``timing_dir``."""
    run_id = uuid.uuid4().hex[:8]
    base = replace(
        local_settings(),
        kafka_dead_letter_topic=f"bench.{run_id}.dlq",
        kafka_group_id=f"bench-{run_id}",
        risk_service_urls=risk.base_url,
        risk_service_token_file=risk.token_file or "",
        spout_batch_records=args.batch,
        spout_linger_ms=args.linger_ms,
        spout_eager_below_in_flight=args.eager_below,
    )
    conf_a = replace(base, kafka_topic=f"bench.{run_id}.a", hbase_table=f"bench_{run_id}_a")
    conf_b = replace(
        base,
        kafka_topic=f"bench.{run_id}.b",
        hbase_table=f"bench_{run_id}_b",
        timing_dir=str(timing_dir),
    )
    for topic in (conf_a.kafka_topic, conf_b.kafka_topic, base.kafka_dead_letter_topic):
        create_topic(base.kafka_bootstrap_servers, topic)
    recreate_table(conf_a)
    recreate_table(conf_b)
    applicants = bench_applicants(args.applicants, args.seed, args.malformed_rate)
    valid = valid_count(applicants)
    produce(base.kafka_bootstrap_servers, conf_a.kafka_topic, applicants)
    return BenchSetup(run_id, conf_a, conf_b, applicants, valid)


def report_rounds(rounds: list[tuple[Round, Round]]) -> float:
    """Print the medians; returns A's median throughput."""
    median_a = statistics.median(a.throughput for a, _ in rounds)
    median_b = statistics.median(b.throughput for _, b in rounds)
    ratio = statistics.median(b.throughput / a.throughput for a, b in rounds)
    print(f"\nthroughput  A (baseline loop) {median_a:8.0f} applicants/s (median)")
    print(f"throughput  B (topology)      {median_b:8.0f} applicants/s (median)")
    print(f"R = B/A     {ratio:.2f} (median of the rounds' ratios)")
    for label, index in (("A", 0), ("B", 1)):
        per_k = statistics.median(r[index].cpu_per_thousand for r in rounds)
        print(
            f"CPU {label}  {per_k:.2f} CPU-s per 1,000 applicants (median over rounds), of which:"
        )
        last = rounds[-1][index]
        for group, seconds in sorted(last.cpu_s.items(), key=lambda item: -item[1]):
            if seconds >= 0.01:
                print(f"        {group:<28} {seconds / last.records * 1000:5.3f}")
    return median_a


PUBLISH_STAGE = "publish (timestamp → broker ack)"
END_TO_END = "end to end (timestamp → HBase cell)"


def measure_latency(
    setup: BenchSetup, fraction: float, rate: float, seconds: float, label: str
) -> LatencyPoint:
    """Pace fresh applicants into the running topology; p50/p99 of Kafka time → HBase write,
    and the per-stage breakdown the components logged meanwhile."""
    count = max(1, min(len(setup.applicants), int(rate * seconds)))
    paced = tag_member_ids(setup.applicants[:count], f"{label}-")
    print(f" {count} applicants paced at {rate:.0f}/s into the topology")
    start_ms = int(time.time() * 1000)
    conf = setup.conf_b
    started = time.monotonic()
    published: list[float] = []
    produce(
        conf.kafka_bootstrap_servers,
        conf.kafka_topic,
        paced,
        rate_per_s=rate,
        acked_after_ms=published,
    )
    produced_in = time.monotonic() - started
    wait_committed(
        conf, end_offsets(conf.kafka_bootstrap_servers, conf.kafka_topic), WAIT_TIMEOUT_S
    )
    end_ms = now_ms()
    load = os.getloadavg()
    rows = sorted(
        (r for r in stored_rows(conf, start_ms) if r.member_id.startswith(f"{label}-")),
        key=lambda r: r.kafka_timestamp_ms,
    )
    latencies = [r.written_ms - r.kafka_timestamp_ms for r in rows]
    point = LatencyPoint.measured(
        fraction=fraction,
        offered_per_s=rate,
        produced_per_s=count / produced_in,
        latencies_ms=latencies,
        stages=stage_breakdown(published, latencies, conf.timing_dir, start_ms, end_ms),
        load_average=(load[0], load[1], load[2]),
    )
    print_point(point)
    return point


# The topology's components in the order a batch meets them (topologies/loan_risk.py).
CHAIN = ("kafka", "clean", "decide", "score", "save")
SPOUT_STAGES = (SPOUT_POLL_STAGE, SPOUT_GATHER_STAGE)


def stage_order(stage: str) -> tuple[int, int, str]:
    """Sort key: by component along the chain; a hop into it, then its parts, then its work."""
    if stage in SPOUT_STAGES:
        return -1, SPOUT_STAGES.index(stage), stage
    if stage.startswith("hop "):
        component, part = stage.rsplit(" → ", 1)[1], 0
    elif stage.endswith(" (work)"):
        component, part = stage.removesuffix(" (work)"), 2
    else:
        component, part = stage.split(" ", 1)[0].rstrip(":"), 1
    position = CHAIN.index(component) if component in CHAIN else len(CHAIN)
    return position, part, stage


def stage_breakdown(
    published_ms: list[float], latencies_ms: list[int], timing_dir: str, since: float, until: float
) -> dict[str, tuple[float, float, int]]:
    """Stage → (p50, p99, applicants), in the order the stages happen."""
    stages: dict[str, StageSamples] = {}
    publish = stages.setdefault(PUBLISH_STAGE, StageSamples())
    for value in published_ms:
        publish.add(value)
    if timing_dir:
        measured = read_samples(timing_dir, since, until)
        stages |= dict(sorted(measured.items(), key=lambda item: stage_order(item[0])))
    total = stages.setdefault(END_TO_END, StageSamples())
    for value in latencies_ms:
        total.add(float(value))
    return {
        name: (samples.percentile(0.5), samples.percentile(0.99), samples.weight)
        for name, samples in stages.items()
        if samples.values
    }


def print_point(point: LatencyPoint) -> None:
    print(f"  produced at {point.produced_per_s:.0f}/s (the bench's producer)")
    print(
        f"  latency over {point.rows} rows: p50 {point.p50_ms:.0f} ms, "
        f"p99 {point.p99_ms:.0f} ms, max {point.max_ms:.0f} ms "
        f"(load average {point.load_average[0]:.1f})"
    )
    print(
        "  p50 by third of the run (growing means a backlog): "
        + ", ".join(f"{value:.0f} ms" for value in point.thirds_p50_ms)
    )
    print(f"  {'where the time goes (per applicant)':<40} {'p50 ms':>8} {'p99 ms':>8}")
    for stage, (p50, p99, _) in point.stages.items():
        print(f"    {stage:<38} {p50:8.1f} {p99:8.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lendstream bench", description=__doc__)
    parser.add_argument("--applicants", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="records per poll / tuple")
    parser.add_argument(
        "--linger-ms", type=int, default=TopologyConf.spout_linger_ms, help="spout batch linger"
    )
    parser.add_argument(
        "--eager-below",
        type=int,
        default=TopologyConf.spout_eager_below_in_flight,
        help="the spout emits a poll at once with fewer batches than this in flight (0: never)",
    )
    parser.add_argument("--malformed-rate", type=float, default=0.01)
    parser.add_argument(
        "--latency-fraction",
        type=float,
        nargs="+",
        default=[0.25, 0.5, 0.8, 1.0],
        help="fractions of A's throughput to measure latency at: the curve's points",
    )
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="default: .cache/model/current"
    )
    parser.add_argument("--nimbus", default=None, help="another Storm than the local stack's")
    parser.add_argument(
        "--out-dir", type=Path, default=Path(".cache/bench"), help="where the curve is written"
    )
    args = parser.parse_args(argv)

    runtime.ensure_up("kafka", "hbase", *([] if args.nimbus else ["storm"]))
    nimbus_address = args.nimbus or local_nimbus()
    with (
        tempfile.TemporaryDirectory(prefix="lendstream-bench-") as work,
        risk_service(args.model_dir, Path(work)) as risk,
    ):
        setup = prepare(args, risk.settings, Path(work) / "timing")
        print(
            f"bench {setup.run_id}: {len(setup.applicants)} applicants "
            f"({setup.valid} valid), {args.rounds} rounds, batches of ≤ {args.batch} "
            f"gathered for ≤ {args.linger_ms} ms (at once below {args.eager_below} in flight)"
        )
        name = f"lendstream-bench-{setup.run_id}"
        deploy_local(setup.conf_b, name=name, nimbus=nimbus_address)
        nimbus = NimbusSession(nimbus_address)
        try:
            wait_topology_consuming(setup.conf_b, 300.0)
            rounds = []
            for number in range(1, args.rounds + 1):
                a = round_a(setup.conf_a, len(setup.applicants), number, risk.pid)
                b = round_b(setup.conf_b, setup.applicants, nimbus.client, name, risk.pid)
                rounds.append((a, b))
                print(
                    f"round {number}: A {a.throughput:6.0f}/s  B {b.throughput:6.0f}/s  "
                    f"R {b.throughput / a.throughput:.2f}",
                    flush=True,
                )
            median_a = report_rounds(rounds)
            report_spread(setup.conf_b)
            points = []
            for fraction in args.latency_fraction:
                print(f"\nat {fraction:.0%} of A's throughput:", end="")
                rate = median_a * fraction
                points.append(
                    measure_latency(setup, fraction, rate, args.latency_seconds, f"lat{fraction:g}")
                )
            parameters = RunParameters(
                run_id=setup.run_id,
                applicants=len(setup.applicants),
                rounds=args.rounds,
                batch_records=args.batch,
                linger_ms=args.linger_ms,
                eager_below_in_flight=args.eager_below,
                latency_seconds=args.latency_seconds,
                throughput_a=median_a,
                throughput_b=statistics.median(b.throughput for _, b in rounds),
                ratio=statistics.median(b.throughput / a.throughput for a, b in rounds),
                load_average=os.getloadavg()[0],
            )
            written = write_curve(points, parameters, args.out_dir)
            print("\nlatency against load: " + ", ".join(str(path) for path in written))
        finally:
            nimbus.close()
            kill(nimbus_address, name)
            drop_run_data(
                setup.conf_a.kafka_bootstrap_servers,
                [
                    setup.conf_a.kafka_topic,
                    setup.conf_b.kafka_topic,
                    setup.conf_a.kafka_dead_letter_topic,
                ],
                setup.conf_a,
                [setup.conf_a.hbase_table, setup.conf_b.hbase_table],
            )


if __name__ == "__main__":
    main()
