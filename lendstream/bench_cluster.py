"""``python -m lendstream.bench_cluster --layout ci`` (``make bench LAYOUT=ci``): the topology (B)
measured on a deployed simulated cluster, with its deployed pipeline, by the single-machine
bench's method where it carries over.

- The applicants are the stack bench's (lendstream.bench.bench_applicants: synthetic, 1 %
  malformed), their member ids tagged ``BENCH-<run id>-<round>-<n>`` so this run's rows are told
  apart. They are published straight into the cluster's applicant topic by the bench's producer
  (lendstream.bench_producer), run on the producer's node: only the nodes resolve the names Kafka
  advertises. It connects as the producer's SCRAM user over SASL_SSL, verified against the
  deployment CA on the node; the password comes from the layout's Vault, on standard input.
- A saturation round publishes N applicants as fast as the producer can: B's throughput on the
  cluster is its stored rows over the time from the first record's timestamp to the last row's
  write. Then paced rounds at fractions of it (25/50/80 % by default) for a few seconds each.
- Each round's rows are read back from HBase on a node (lendstream.chaos.probe ``delays``:
  salted row keys, the member id cell): end-to-end latency is the HBase cell's write time minus
  the Kafka record timestamp (the simulated nodes share this machine's clock). The stages the
  deployed topology does not log are not broken down: the bench shows the publish (timestamp →
  broker ack) and the total.
- Dead letters: the growth of the dead-letter topic over the run, against the malformed records
  published. The write spread: the write requests each RegionServer served on ``members`` over
  the run (lendstream.hbase_spread on a node, before and after).
- The ratio to the single machine: B's throughput from the newest stack bench's parameters under
  ``.cache/bench`` (``latest-params.json``), named with its run and date; none if it never ran.
The curve goes to ``.cache/bench/<UTC time>-<run id>-cluster-*`` and ``latest-cluster-*``
(lendstream.bench_curve). The cluster is only written to (the applicant topic, ``members``):
nothing is deployed, restarted or deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lendstream import bench_monitoring, bench_producer
from lendstream.bench import (
    END_TO_END,
    PUBLISH_STAGE,
    bench_applicants,
    print_point,
    stage_breakdown,
    valid_count,
)
from lendstream.bench_curve import LatencyPoint, write_curve
from lendstream.bench_producer import tag_member_ids
from lendstream.chaos.cluster import (
    DEAD_LETTER_TOPIC,
    HBASE_TABLE,
    LOCAL_THRIFT_HOST,
    NODE_PYTHON,
    TLS_CA_FILE,
    TOPIC,
    ChaosCluster,
    role_default,
)
from lendstream.kafka_client import SASL_SSL
from lendstream.vcluster import ssh

PRODUCER_PASSWORD = "vault_kafka_producer_password"
POLL_INTERVAL_S = 3.0
STALL_TIMEOUT_S = 90.0  # a round's rows stop coming for this long: it is over, short
STACK_PARAMS = "latest-params.json"


class BenchClusterError(RuntimeError):
    """The cluster bench could not run a step (not a finding about the pipeline)."""


@dataclass(frozen=True)
class ClusterRunParameters:
    run_id: str
    layout: str
    applicants: int  # the saturation round's
    malformed_rate: float
    latency_seconds: float
    producer_node: str
    throughput_b: float  # the cluster's, from the saturation round
    produced_per_s: float  # the saturation round's producer
    dead_letters: int
    malformed_published: int
    stack_run: str  # the single-machine bench compared with ("" when none)
    stack_throughput_b: float
    ratio_to_stack: float
    load_average: float

    kind = "cluster"
    fraction_of = "B saturated"

    def title(self) -> str:
        stack = (
            f"; {self.ratio_to_stack:.2f} of the stack's B (run {self.stack_run})"
            if self.stack_run
            else ""
        )
        return (
            f"cluster {self.layout}: topology latency against load — run {self.run_id}\n"
            f"B {self.throughput_b:.0f}/s saturated{stack}; load avg {self.load_average:.1f}"
        )


@dataclass(frozen=True)
class StackReference:
    run_id: str
    date: str  # UTC, from the run's file name
    throughput_b: float
    commit: str


def stack_reference(out_dir: Path) -> StackReference | None:
    """The newest single-machine bench's B throughput, from its parameters file (None: none)."""
    latest = out_dir / STACK_PARAMS
    if not latest.is_file():
        return None
    params = json.loads(latest.read_text())
    run_id = str(params["run_id"])
    named = sorted(out_dir.glob(f"*-{run_id}-params.json"))
    stamp = named[-1].name.split("-", 1)[0] if named else ""
    date = (
        f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]} UTC"
        if len(stamp) == 16
        else "date unknown"
    )
    return StackReference(run_id, date, float(params["throughput_b"]), str(params.get("commit")))


def throughput(pairs: Sequence[tuple[int, int]]) -> float:
    """Rows per second from the first record's timestamp to the last row's write
    (``pairs``: Kafka timestamp ms, HBase write ms)."""
    if not pairs:
        return 0.0
    span_ms = max(stored for _, stored in pairs) - min(kafka for kafka, _ in pairs)
    return len(pairs) / max(span_ms / 1000.0, 0.001)


def latencies_in_order(pairs: Sequence[tuple[int, int]]) -> list[float]:
    """End-to-end latency of each row, ms, in the order the records were published."""
    return [float(stored - kafka) for kafka, stored in sorted(pairs)]


def write_spread(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
) -> dict[str, int]:
    """Write requests each RegionServer served between two hbase_spread readings (regions as
    ``{"encoded", "server", "writes"}``): a region's count since it opened there, so one that
    moved or split in between counts from zero."""
    earlier = {
        (r["encoded"], r["server"]): int(r["writes"] or 0)
        for r in before
        if r["writes"] is not None
    }
    servers: dict[str, int] = {}
    for region in after:
        now = int(region["writes"] or 0)
        then = earlier.get((region["encoded"], region["server"]), 0)
        servers[region["server"]] = servers.get(region["server"], 0) + max(0, now - then)
    return dict(sorted(servers.items()))


# ---- the cluster --------------------------------------------------------------------------------


@dataclass
class ClusterBench:
    cluster: ChaosCluster
    node: str  # where the bench's producer runs

    def security(self) -> dict[str, str] | None:
        """The producer's SASL_SSL settings (kafka_client.KafkaSecurity's fields), or None
        when the layout's Kafka is plaintext (no lendstream_tls)."""
        if not self.cluster.tls:
            return None
        vault = self.cluster.vault()
        return {
            "protocol": SASL_SSL,
            "ca_file": TLS_CA_FILE,
            "username": str(role_default("producer", "producer_kafka_username")),
            "password": str(vault[PRODUCER_PASSWORD]),
        }

    def publish(self, records: Sequence[Any], rate_per_s: float) -> dict[str, Any]:
        """The bench's producer on the node: what it published, in how long, each ack time."""
        plan = {
            "bootstrap": self.cluster.bootstrap(),
            "topic": TOPIC,
            "security": self.security(),
            "records": list(records),
            "rate_per_s": rate_per_s,
        }
        source = Path(bench_producer.__file__).read_text()
        command = f"sudo -n {NODE_PYTHON} -c {shlex.quote(source)}"
        timeout = 120 + (len(records) / rate_per_s if rate_per_s > 0 else len(records) / 50)
        result = ssh.run(
            self.cluster.layout,
            self.cluster.node(self.node),
            command,
            timeout_s=timeout,
            stdin=json.dumps(plan),
        )
        if result.returncode != 0 or "{" not in result.stdout:
            raise BenchClusterError(
                f"{self.node}: the producer failed ({result.returncode}): {result.stderr[-1500:]}"
            )
        answer: dict[str, Any] = json.loads(result.stdout[result.stdout.index("{") :])
        return answer

    def stored(self, prefix: str, expected: int, timeout_s: float) -> list[tuple[int, int]]:
        """The rows under the prefix once ``expected`` are stored, or when they stop coming
        (STALL_TIMEOUT_S) or at ``timeout_s``: (Kafka timestamp, HBase write) ms each."""
        deadline = time.monotonic() + timeout_s
        last_change, count = time.monotonic(), -1
        while True:
            rows = self.cluster.stored_delays(prefix)
            if len(rows) >= expected:
                return rows
            if len(rows) != count:
                last_change, count = time.monotonic(), len(rows)
            now = time.monotonic()
            if now > deadline or now - last_change > STALL_TIMEOUT_S:
                print(f"  only {len(rows)} of {expected} rows stored: the round ends short")
                return rows
            time.sleep(POLL_INTERVAL_S)

    def regions(self) -> list[dict[str, Any]]:
        """``members``' regions with their servers and write requests (hbase_spread --json)."""
        info = role_default("hbase", "hbase_regionserver_info_port")
        # On a supervisor (on_a_node), through that node's own loopback-only Thrift server.
        thrift = f"{LOCAL_THRIFT_HOST}:{role_default('hbase', 'hbase_thrift_port')}"
        argv = [NODE_PYTHON, "-m", "lendstream.hbase_spread", "--json", "--table", HBASE_TABLE]
        argv += ["--thrift", thrift]
        for host in self.cluster.hosts("hbase_regionserver"):
            argv += ["--regionserver-info", f"{host}:{info}"]
        regions: list[dict[str, Any]] = self.cluster.on_a_node(argv, timeout_s=120)["regions"]
        return regions

    def dead_letters(self) -> int:
        return self.cluster.topic_size(DEAD_LETTER_TOPIC)


@dataclass(frozen=True)
class RoundResult:
    point: LatencyPoint
    stored_per_s: float
    malformed: int


def run_round(
    bench: ClusterBench,
    records: Sequence[Any],
    *,
    prefix: str,
    fraction: float,
    rate_per_s: float,
    timeout_s: float,
) -> RoundResult:
    tagged = tag_member_ids(records, prefix)
    valid = valid_count(tagged)
    pace = f"paced at {rate_per_s:.0f}/s" if rate_per_s > 0 else "as fast as it can"
    print(f" {len(tagged)} applicants ({valid} valid) published {pace} from {bench.node}")
    published = bench.publish(tagged, rate_per_s)
    produced_per_s = published["produced"] / published["seconds"]
    pairs = bench.stored(prefix, valid, timeout_s)
    if not pairs:
        raise BenchClusterError(f"no row of {prefix}* was stored")
    latencies = latencies_in_order(pairs)
    load = os.getloadavg()
    stages = stage_breakdown(published["publish_ms"], [int(v) for v in latencies], "", 0, 0)
    point = LatencyPoint.measured(
        fraction=fraction,
        offered_per_s=rate_per_s or produced_per_s,
        produced_per_s=produced_per_s,
        latencies_ms=latencies,
        stages={name: stages[name] for name in (PUBLISH_STAGE, END_TO_END) if name in stages},
        load_average=(load[0], load[1], load[2]),
    )
    print_point(point)
    stored_per_s = throughput(pairs)
    print(f"  stored {len(pairs)} rows at {stored_per_s:.0f}/s (first timestamp → last write)")
    return RoundResult(point, stored_per_s, len(tagged) - valid)


def measure_monitoring_overhead(
    bench: ClusterBench, applicants: Sequence[Any], run_id: str, args: argparse.Namespace
) -> None:
    """B with monitoring running and stopped (lendstream.bench_monitoring), and the monitoring
    processes' memory per node; the figures also go to ``latest-monitoring-overhead.json``."""
    cluster = bench.cluster
    memory = bench_monitoring.resident_mib(cluster)
    print("resident memory of the monitoring processes (MiB):")
    for host, units in memory.items():
        listed = ", ".join(f"{unit} {mib:.0f}" for unit, mib in units.items())
        print(f"  {host}: {sum(units.values()):.0f} ({listed})")
    print("\nwarm-up round, monitoring on, not counted:", end="")
    run_round(
        bench,
        applicants,
        prefix=f"BENCH-{run_id}-warmup-",
        fraction=1.0,
        rate_per_s=0.0,
        timeout_s=args.round_timeout_s,
    )
    rounds = []
    running = True
    with bench_monitoring.monitoring_restored(cluster):
        for index in range(args.monitoring_overhead * len(bench_monitoring.ON_OFF_CYCLE)):
            wanted = bench_monitoring.ON_OFF_CYCLE[index % len(bench_monitoring.ON_OFF_CYCLE)]
            if wanted != running:
                bench_monitoring.set_monitoring(cluster, running=wanted)
                running = wanted
                time.sleep(bench_monitoring.SETTLE_S)
            state = "on" if running else "off"
            print(f"\nround {index + 1}, monitoring {state}:", end="")
            cpu_before = bench_monitoring.service_cpu_seconds(cluster)
            result = run_round(
                bench,
                applicants,
                prefix=f"BENCH-{run_id}-mon{index}-",
                fraction=1.0,
                rate_per_s=0.0,
                timeout_s=args.round_timeout_s,
            )
            measured = bench_monitoring.OverheadRound(
                running,
                result.stored_per_s,
                len(applicants),
                bench_monitoring.cpu_by_unit(
                    cpu_before, bench_monitoring.service_cpu_seconds(cluster)
                ),
            )
            print(
                f"  services' CPU {measured.service_cpu_s:.1f} s"
                f" ({measured.cpu_ms_per_applicant:.1f} ms per applicant),"
                f" monitoring's {measured.monitoring_cpu_s:.1f} s"
            )
            rounds.append(measured)
    summary = bench_monitoring.overhead_summary(rounds)
    print(
        f"\nB with monitoring {summary['with_monitoring_per_s']:.0f}/s, without "
        f"{summary['without_monitoring_per_s']:.0f}/s (medians of {len(rounds) // 2} rounds "
        f"each): monitoring costs {summary['overhead_percent']:.1f} % of B"
    )
    per_cycle = ", ".join(f"{cost:.1f} %" for cost in summary["cycle_overhead_percent"])
    print(
        f"per cycle of {len(bench_monitoring.ON_OFF_CYCLE)} (quadratic drift cancelled):"
        f" {per_cycle}; median {summary['median_cycle_overhead_percent']:.1f} %"
    )
    if "fitted_overhead_percent" in summary:
        print(
            "fitted over the run (quadratic drift + monitoring): monitoring costs"
            f" {summary['fitted_overhead_percent']:.1f} ± "
            f"{summary['fitted_overhead_percent_error']:.1f} % of B (standard error)"
        )
    if "median_cycle_cpu_added_percent" in summary:
        cpu_cycles = ", ".join(f"{cost:.1f} %" for cost in summary["cycle_cpu_added_percent"])
        print(
            f"services' CPU per applicant {summary['cpu_ms_per_applicant_with']:.1f} ms"
            f" with monitoring, {summary['cpu_ms_per_applicant_without']:.1f} ms without"
            f" (medians); added per cycle: {cpu_cycles};"
            f" median {summary['median_cycle_cpu_added_percent']:.1f} %"
        )
        if "fitted_cpu_added_percent" in summary:
            print(
                "fitted over the run: monitoring adds"
                f" {summary['fitted_cpu_added_percent']:.1f} ± "
                f"{summary['fitted_cpu_added_percent_error']:.1f} % to the CPU per applicant"
            )
        print(
            "the monitoring services' own share of the services' CPU with monitoring:"
            f" median {summary['median_monitoring_services_cpu_percent']:.1f} %"
        )
        added = summary["cpu_added_by_unit_ms_per_applicant"]
        shown = list(added.items())[: bench_monitoring.BREAKDOWN_SHOWN]
        print(
            "CPU per applicant added with monitoring, by service (ms, median of the cycles):",
            ", ".join(f"{unit} {ms:+.3f}" for unit, ms in shown),
        )
    document = {"run_id": run_id, "layout": args.layout, "memory_mib": memory, **summary}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / "latest-monitoring-overhead.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"written: {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lendstream bench --layout", description=__doc__)
    parser.add_argument("--layout", required=True, help="a deployed simulated layout (ci)")
    parser.add_argument("--applicants", type=int, default=10_000, help="the saturation round's")
    parser.add_argument("--malformed-rate", type=float, default=0.01)
    parser.add_argument(
        "--latency-fraction",
        type=float,
        nargs="+",
        default=[0.25, 0.5, 0.8],
        help="fractions of B's saturated throughput on the cluster: the curve's points",
    )
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--round-timeout-s", type=float, default=240.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out-dir", type=Path, default=Path(".cache/bench"))
    parser.add_argument(
        "--monitoring-overhead",
        type=int,
        default=0,
        metavar="CYCLES",
        help="instead of the curve: CYCLES cycles of eight saturation rounds with monitoring on"
        " and off (lendstream.bench_monitoring)",
    )
    args = parser.parse_args(argv)

    cluster = ChaosCluster.open(args.layout)
    producers = cluster.hosts("producer") or cluster.hosts("kafka_broker")
    bench = ClusterBench(cluster, producers[0])
    run_id = uuid.uuid4().hex[:8]
    count = max(args.applicants, 1)
    applicants = bench_applicants(count, args.seed, args.malformed_rate)
    print(f"cluster bench {run_id} on {args.layout}: member ids BENCH-{run_id}-*")
    if args.monitoring_overhead:
        measure_monitoring_overhead(bench, applicants, run_id, args)
        return
    regions_before, dead_before = bench.regions(), bench.dead_letters()

    print("\nsaturation round:", end="")
    saturation = run_round(
        bench,
        applicants,
        prefix=f"BENCH-{run_id}-sat-",
        fraction=1.0,
        rate_per_s=0.0,
        timeout_s=args.round_timeout_s,
    )
    b = saturation.stored_per_s
    points, malformed = [], saturation.malformed
    for fraction in args.latency_fraction:
        rate = b * fraction
        needed = max(1, int(rate * args.latency_seconds))
        if needed > len(applicants):  # the generator's longer run starts with the shorter
            applicants = bench_applicants(needed, args.seed, args.malformed_rate)
        records = applicants[:needed]
        print(f"\nat {fraction:.0%} of B's saturated throughput:", end="")
        result = run_round(
            bench,
            records,
            prefix=f"BENCH-{run_id}-p{fraction:g}-",
            fraction=fraction,
            rate_per_s=rate,
            timeout_s=args.round_timeout_s,
        )
        points.append(result.point)
        malformed += result.malformed
    dead = bench.dead_letters() - dead_before
    spread = write_spread(regions_before, bench.regions())

    print(f"\ncluster {args.layout}: B {b:.0f} applicants/s (saturation round, stored rows)")
    print(f"dead letters: {dead} over the run for {malformed} malformed published")
    print(f"write requests on {HBASE_TABLE} per RegionServer over the run:")
    for server, writes in spread.items():
        print(f"  {server:<28} {writes:8d}")
    stack = stack_reference(args.out_dir)
    if stack is None:
        print(f"single machine: no stack bench under {args.out_dir} (make bench): no ratio")
    else:
        print(
            f"single machine: B {stack.throughput_b:.0f}/s (stack bench run {stack.run_id}, "
            f"{stack.date}, commit {stack.commit}): cluster/stack = {b / stack.throughput_b:.2f}"
        )
    parameters = ClusterRunParameters(
        run_id=run_id,
        layout=args.layout,
        applicants=count,
        malformed_rate=args.malformed_rate,
        latency_seconds=args.latency_seconds,
        producer_node=bench.node,
        throughput_b=b,
        produced_per_s=saturation.point.produced_per_s,
        dead_letters=dead,
        malformed_published=malformed,
        stack_run=f"{stack.run_id} ({stack.date})" if stack else "",
        stack_throughput_b=stack.throughput_b if stack else 0.0,
        ratio_to_stack=b / stack.throughput_b if stack else 0.0,
        load_average=os.getloadavg()[0],
    )
    written = write_curve([saturation.point, *points], parameters, args.out_dir)
    print("\nlatency against load: " + ", ".join(str(path) for path in written))


if __name__ == "__main__":
    main(sys.argv[1:])
