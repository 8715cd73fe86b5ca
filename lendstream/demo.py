"""`make demo`: the whole pipeline on the single-machine stack, with a live progress bar.

Builds what is missing (JVM bundles, model), starts the stack (MariaDB, ZooKeeper, Kafka, HBase,
Storm, the applicant API and the risk service), loads applicants into MySQL, submits the topology,
starts the producer, and follows the applicants through Kafka and Storm into HBase. Then prints a
summary and leaves the stack running or stops it, as asked.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import happybase
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lendstream import cli
from lendstream.kafka_topics import KafkaReadError, committed_offsets, end_offsets
from lendstream.pipeline.hbase_writer import member_id_of
from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.reconcile import CannotReconcileError, Report, Settings, reconcile
from lendstream.stack import runtime
from lendstream.stack.services import applicant_count, load_applicants
from lendstream.stack.topology import deploy_local, local_nimbus, local_settings
from lendstream.storm.deployment import running_topologies
from lendstream.storm.jar import TOPOLOGY_NAME

POLL_INTERVAL_S = 2.0
SAMPLE_ROWS = 5

console = Console()


@dataclass
class Summary:
    """The reconcile's accounting of the run, and what the table shows beside it."""

    report: Report
    rules: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, str]] = field(default_factory=list)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream demo`'s arguments (lendstream.cli.demo)."""
    parser.add_argument(
        "--synthetic",
        type=int,
        default=5_000,
        metavar="N",
        help="synthetic applicants to load beside the 9,857 real ones (default 5,000)",
    )
    parser.add_argument(
        "--malformed-rate",
        type=float,
        default=0.02,
        help="share of synthetic applicants that are malformed on purpose (default 0.02)",
    )
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument(
        "--then",
        choices=["keep", "stop"],
        default="keep",
        help="leave the stack running (default) or stop it after the summary",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds to wait for the pipeline to drain"
    )


def main(argv: list[str] | None = None) -> int:
    return cli.run_subcommand("demo", argv)


def run_command(args: argparse.Namespace) -> int:
    settings = local_settings()
    try:
        with console.status("Starting the stack (first run builds bundles and the model)…"):
            endpoints = runtime.ensure_up()
        console.print("[green]✓[/] stack healthy: every component answers")
        with console.status("Loading applicants into MySQL…"):
            loaded = load_applicants(args.synthetic, args.seed, args.malformed_rate)
        console.print(f"[green]✓[/] MySQL holds {loaded:,} applicants")
        with console.status("Submitting the topology to nimbus…"):
            if TOPOLOGY_NAME not in running_topologies(local_nimbus()):
                deploy_local(settings)
        console.print(f"[green]✓[/] topology {TOPOLOGY_NAME} running")
        runtime.ensure_up("producer")
        console.print("[green]✓[/] producer publishing from the applicant API to Kafka")
        drained = _follow(settings, applicant_count(), args.timeout)
        summary = _summarise(settings)
        _print_summary(summary, endpoints.storm_ui_url, drained)
    except runtime.StackError as error:
        console.print(f"[red]✗ {error.component} failed:[/] {error.reason}")
        console.print(error.log_tail, markup=False, highlight=False)
        return 1
    except (CannotReconcileError, KafkaReadError) as error:
        console.print(f"[red]✗ could not reconcile:[/] {error}", highlight=False)
        return 1
    finally:
        if args.then == "stop":
            with console.status("Stopping the stack…"):
                runtime.down()
            console.print("stack stopped")
        else:
            console.print("stack left running: `make stack-status`, `make stack-down`")
    return 0 if drained else 1


def _follow(settings: TopologyConf, total: int, timeout_s: float) -> bool:
    """A progress bar over the applicants the topology has finished (offsets committed after
    their tuple trees were acked, i.e. after the HBase write or the dead-letter publish)."""
    deadline = time.monotonic() + timeout_s
    columns = (
        TextColumn("[bold]applicants"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("published {task.fields[published]:,}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("pipeline", total=total, published=0)
        while time.monotonic() < deadline:
            bootstrap = settings.kafka_bootstrap_servers
            published = sum(end_offsets(bootstrap, settings.kafka_topic).values())
            done = sum(
                committed_offsets(
                    settings.kafka_bootstrap_servers, settings.kafka_group_id, settings.kafka_topic
                ).values()
            )
            progress.update(task, completed=min(done, total), published=published)
            if published >= total and done >= published:
                return True
            time.sleep(POLL_INTERVAL_S)
    console.print(f"[yellow]gave up waiting after {timeout_s:.0f} s[/]")
    return False


def _summarise(settings: TopologyConf) -> Summary:
    """The reconcile's report (lendstream.reconcile: published, stored, dead-lettered and
    superseded, each row checked), then the rules that rejected and a few sample rows."""
    check = Settings.for_topology(settings, drain_timeout_s=120.0, settle_s=1.0)
    with console.status("Reconciling HBase and the dead letters with what was published…"):
        summary = Summary(reconcile(check, progress=lambda message: None))
    connection = happybase.Connection(settings.hbase_host, settings.hbase_port, timeout=120_000)
    try:
        table = connection.table(settings.hbase_table)
        columns = [b"result:decision", b"result:rule", b"result:probability_of_default"]
        for key, cells in table.scan(columns=columns, batch_size=2_000):
            decision = cells[b"result:decision"].decode()
            if b"result:rule" in cells:
                summary.rules[cells[b"result:rule"].decode()] += 1
            if len(summary.samples) < SAMPLE_ROWS and decision != "rejected":
                summary.samples.append(
                    {
                        "member_id": member_id_of(key),
                        "decision": decision,
                        "probability_of_default": cells[b"result:probability_of_default"].decode(),
                    }
                )
    finally:
        connection.close()
    return summary


def _print_summary(summary: Summary, storm_ui_url: str, drained: bool) -> None:
    report = summary.report
    table = Table(title="lendstream demo", show_header=False)
    table.add_row("published to Kafka", f"{report.published:,}")
    for rule, count in sorted(summary.rules.items()):
        table.add_row(f"rejected by rule: {rule}", f"{count:,}")
    for decision in ("approve", "review", "decline"):
        table.add_row(f"scored: {decision}", f"{report.decisions.get(decision, 0):,}")
    table.add_row("dead-lettered (malformed or refused)", f"{report.dead_lettered:,}")
    table.add_row("superseded (member published again)", f"{report.superseded:,}")
    table.add_row("rows in HBase `members`", f"{report.stored:,}")
    if report.extra_rows:
        table.add_row("older rows (not from this topic)", f"{report.extra_rows:,}")
    table.add_row(
        "published = stored + dead-lettered + superseded",
        "yes" if report.reconciled else f"no: {len(report.differences):,} differences",
    )
    console.print(table)
    for difference in report.differences[:SAMPLE_ROWS]:
        console.print(f"  {difference}", style="red", markup=False, highlight=False)
    samples = Table(title="sample rows", show_header=True)
    for column in ("member_id", "decision", "probability_of_default"):
        samples.add_column(column)
    for sample in summary.samples:
        samples.add_row(
            sample["member_id"],
            sample["decision"],
            f"{float(sample['probability_of_default']):.3f}",
        )
    console.print(samples)
    if storm_ui_url:
        console.print(f"Storm UI: {storm_ui_url}")
    if not drained:
        console.print("[yellow]the pipeline had not drained when the demo stopped waiting[/]")


if __name__ == "__main__":
    sys.exit(main())
