"""``python -m lendstream.reconcile``: does what the pipeline stored account for what was published?

An operator's check, run where the cluster's host names resolve (a cluster node, from the
lendstream virtualenv, with ``--hbase-hosts 127.0.0.1``: every Thrift server listens on its node's
loopback only, and every supervisor runs one) and used by the end-to-end tests on the
single-machine stack:

1. wait (bounded) until the topology's consumer group has committed the applicant topic's end
   offsets on every partition, and they stay put: the topology has drained;
2. read every record of the topic and of the dead-letter topic;
3. work out what must have happened to each record with the pipeline's own functions
   (lendstream.pipeline.flow: triage, apply_rules, apply_scores, and the risk service; the cells
   with lendstream.pipeline.hbase_writer.row_cells): the same code the bolts run;
4. compare with the HBase table and the dead-letter topic: every valid applicant's row is there
   once with the expected cells, every malformed record is dead-lettered with its reason (replayed
   dead letters identical), and published = stored + dead-lettered + superseded. Rows the topic
   does not explain (a long-lived table holds older ones) are reported, not counted as wrong.

A member published more than once is expected with its latest record (Kafka timestamp, then
position); its earlier records are *superseded*. A dead letter of stage ``score`` (the risk
service refused its batch outright) stands in for the applicant's row.

Every endpoint given (Kafka brokers, HBase Thrift servers, risk services) is probed first with a
short TCP connect: those that do not answer (a node down) are skipped and reported, so the check
works with any one node down; it fails only when no endpoint of a kind answers.

Exit status: 0 everything reconciles, 1 differences (the first ones are printed), 2 the check
could not be made (not drained in time, no endpoint of a kind answering, a topic or table missing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kafka.errors import KafkaError

from lendstream import cli
from lendstream.kafka_client import (
    PLAINTEXT_SECURITY,
    KafkaSecurity,
    KafkaSecurityError,
    operator_security,
)
from lendstream.kafka_topics import KafkaReadError, read_topic, wait_until_drained
from lendstream.pipeline.endpoints import split_list
from lendstream.pipeline.hbase_writer import CONNECTION_ERRORS
from lendstream.pipeline.scoring import RiskServiceSettings
from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.reconcile.comparison import Report, compare, refused_positions
from lendstream.reconcile.endpoints import (
    PROBE_TIMEOUT_S,
    Probed,
    broker_address,
    probe,
    url_address,
)
from lendstream.reconcile.errors import CannotReconcileError
from lendstream.reconcile.expectation import expect, risk_service_scorer, triage_published
from lendstream.reconcile.hbase import read_table


@dataclass(frozen=True)
class Settings:
    bootstrap: tuple[str, ...]
    topic: str
    dead_letter_topic: str
    group: str
    hbase_hosts: tuple[str, ...]
    hbase_port: int
    table: str
    risk: RiskServiceSettings
    drain_timeout_s: float
    settle_s: float
    read_timeout_s: float
    kafka_security: KafkaSecurity = PLAINTEXT_SECURITY

    @classmethod
    def for_topology(
        cls,
        conf: TopologyConf,
        *,
        drain_timeout_s: float = 600.0,
        settle_s: float = 5.0,
        read_timeout_s: float = 600.0,
    ) -> Settings:
        """The check of the pipeline a topology configuration describes (the demo's, a test's)."""
        return cls(
            bootstrap=split_list(conf.kafka_bootstrap_servers),
            topic=conf.kafka_topic,
            dead_letter_topic=conf.kafka_dead_letter_topic,
            group=conf.kafka_group_id,
            hbase_hosts=split_list(conf.hbase_hosts),
            hbase_port=conf.hbase_port,
            table=conf.hbase_table,
            risk=conf.risk_service_settings(),
            drain_timeout_s=drain_timeout_s,
            settle_s=settle_s,
            read_timeout_s=read_timeout_s,
            kafka_security=conf.kafka_security(),
        )


def probe_endpoints(settings: Settings, timeout_s: float = PROBE_TIMEOUT_S) -> list[Probed]:
    """Kafka brokers, HBase Thrift servers and risk services, each probed (see ``probe``)."""
    return [
        probe("Kafka broker", settings.bootstrap, broker_address, timeout_s),
        probe(
            "HBase Thrift server",
            settings.hbase_hosts,
            lambda host: (host, settings.hbase_port),
            timeout_s,
        ),
        probe("risk service", settings.risk.urls, url_address, timeout_s),
    ]


def with_live_endpoints(settings: Settings, probed: Sequence[Probed]) -> Settings:
    """``settings`` with only the endpoints that answered (``probed`` as ``probe_endpoints``)."""
    brokers, thrift_servers, risk_services = probed
    risk = dataclasses.replace(
        settings.risk, base_url=risk_services.live[0], failover_urls=risk_services.live[1:]
    )
    return dataclasses.replace(
        settings, bootstrap=brokers.live, hbase_hosts=thrift_servers.live, risk=risk
    )


def reconcile(settings: Settings, progress: Callable[[str], None]) -> Report:
    """Skip the endpoints that do not answer, wait for the drain, read everything, work out what
    must have happened, compare."""
    probed = probe_endpoints(settings)
    for kind in probed:
        for endpoint, why in kind.dead.items():
            progress(f"skipping {kind.kind} {endpoint}: it does not answer ({why})")
    settings = with_live_endpoints(settings, probed)
    report = _reconcile_live(settings, progress)
    report.unreachable = {kind.kind: kind.dead for kind in probed if kind.dead}
    return report


def _reconcile_live(settings: Settings, progress: Callable[[str], None]) -> Report:
    wait_until_drained(
        settings.bootstrap,
        settings.topic,
        settings.group,
        settings.drain_timeout_s,
        settle_s=settings.settle_s,
        progress=progress,
        security=settings.kafka_security,
    )
    security = settings.kafka_security
    published = read_topic(settings.bootstrap, settings.topic, settings.read_timeout_s, security)
    progress(f"read {len(published.records):,} records of {settings.topic}")
    letters = read_topic(
        settings.bootstrap, settings.dead_letter_topic, settings.read_timeout_s, security
    )
    progress(f"read {len(letters.records):,} dead letters of {settings.dead_letter_topic}")
    triaged = triage_published(published.records, settings.topic)
    refused = refused_positions(letters.records, settings.topic)
    expectation = expect(triaged, risk_service_scorer(settings.risk), refused_at=refused)
    progress(f"decided {len(expectation.rows):,} applicants with the rules and the risk service")
    rows = read_table(settings.hbase_hosts, settings.hbase_port, settings.table)
    progress(f"read {len(rows):,} rows of {settings.table}")
    return compare(expectation, rows, letters.records, published.log_start)


def parse_arguments(argv: Sequence[str]) -> tuple[Settings, argparse.Namespace]:
    args = cli.parse(["reconcile", *argv])
    return args.settings_of(args), args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream reconcile`'s arguments (lendstream.cli.reconcile). A bad one exits 2 naming
    it, before anything is read: `settings_of` checks what argparse cannot."""
    required = parser.add_argument_group("where the pipeline is (all required)")
    for flag, text in (
        ("--bootstrap", "Kafka brokers, host:port,host:port"),
        ("--topic", "the applicant topic"),
        ("--dead-letter-topic", "the dead-letter topic"),
        ("--group", "the topology's consumer group"),
        ("--hbase-hosts", "HBase Thrift servers, host,host (the first that answers is read)"),
        ("--table", "the HBase table"),
        ("--risk-url", "risk services, http(s)://host:port,… (failed over in turn)"),
        ("--risk-token-file", "file holding the risk service's bearer token"),
    ):
        required.add_argument(flag, required=True, help=text)
    required.add_argument("--hbase-port", type=int, required=True, help="HBase Thrift port")
    parser.add_argument(
        "--risk-ca-file",
        default=None,
        help="CA certificate https:// risk services must chain to (default: the system's)",
    )
    kafka = parser.add_argument_group(
        "Kafka security (lendstream.kafka_client; default: the node's operator settings, "
        "/etc/lendstream/kafka-client/operator.env, else plaintext)"
    )
    kafka.add_argument("--kafka-security-protocol", choices=["PLAINTEXT", "SASL_SSL"])
    kafka.add_argument("--kafka-ca-file", help="CA certificate the brokers must chain to")
    kafka.add_argument("--kafka-username", help="SCRAM-SHA-512 user (read access suffices)")
    kafka.add_argument("--kafka-password-file", help="file holding that user's password")
    parser.add_argument("--drain-timeout-s", type=float, default=600.0)
    parser.add_argument(
        "--settle-s", type=float, default=5.0, help="how long drained offsets must stay put"
    )
    parser.add_argument("--read-timeout-s", type=float, default=600.0, help="per topic read")
    parser.add_argument("--max-differences", type=int, default=20, help="how many to print")
    parser.add_argument("--json", action="store_true", help="the summary as one JSON object")
    parser.set_defaults(settings_of=lambda args: _settings_of(parser, args))


def _settings_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Settings:
    risk_urls = split_list(args.risk_url)
    if not risk_urls:
        parser.error("--risk-url names no risk service")
    for flag, endpoints, address in (
        ("--bootstrap", split_list(args.bootstrap), broker_address),
        ("--risk-url", risk_urls, url_address),
    ):
        try:
            for endpoint in endpoints:
                address(endpoint)
        except ValueError as error:
            parser.error(f"{flag}: {error}")
    try:
        security = (
            KafkaSecurity(
                args.kafka_security_protocol,
                ca_file=args.kafka_ca_file,
                username=args.kafka_username,
                password_file=args.kafka_password_file,
            )
            if args.kafka_security_protocol
            else operator_security()
        )
    except KafkaSecurityError as error:
        parser.error(str(error))
    conf = TopologyConf(
        kafka_bootstrap_servers=args.bootstrap,
        kafka_topic=args.topic,
        kafka_dead_letter_topic=args.dead_letter_topic,
        kafka_group_id=args.group,
        hbase_hosts=args.hbase_hosts,
        hbase_port=args.hbase_port,
        hbase_table=args.table,
        risk_service_urls=args.risk_url,
        risk_service_token_file=args.risk_token_file,
        risk_service_ca_file=args.risk_ca_file or "",
        kafka_security_protocol=security.protocol,
        kafka_ca_file=security.ca_file or "",
        kafka_username=security.username or "",
        kafka_password_file=security.password_file or "",
    )
    try:
        return Settings.for_topology(
            conf,
            drain_timeout_s=args.drain_timeout_s,
            settle_s=args.settle_s,
            read_timeout_s=args.read_timeout_s,
        )
    except OSError as error:
        parser.error(f"cannot read --risk-token-file: {error}")


def summary_lines(report: Report, max_differences: int) -> list[str]:
    lines = [
        f"published        {report.published:>10,}",
        f"stored           {report.stored:>10,}",
        *(f"  {decision:<14} {count:>10,}" for decision, count in sorted(report.decisions.items())),
        f"dead-lettered    {report.dead_lettered:>10,}  ({report.dead_letter_messages:,} messages)",
        f"superseded       {report.superseded:>10,}  (member published again later)",
        f"extra rows       {report.extra_rows:>10,}  (in the table, not explained by the topic)",
    ]
    if report.extra_row_keys:
        lines.append(f"  e.g. {', '.join(report.extra_row_keys)}")
    if report.redriven_dead_letters:
        lines.append(
            f"re-driven        {report.redriven_dead_letters:>10,}  (dead letters whose record was "
            "re-driven and now passes: decided by the re-driven record)"
        )
    if report.older_dead_letters or report.other_topic_dead_letters:
        lines.append(
            f"dead letters of older records {report.older_dead_letters:,}, "
            f"of other topics {report.other_topic_dead_letters:,}"
        )
    if report.model_versions:
        versions = ", ".join(f"{v} ({n:,})" for v, n in sorted(report.model_versions.items()))
        lines.append(f"model versions   {versions}")
    if report.scored_by_other_models:
        rows = sum(report.scored_by_other_models.values())
        lines.append(
            f"  {rows:,} rows scored by a model no risk service serves now: their scores were "
            "not re-derived (every other cell was compared)"
        )
    for kind, dead in sorted(report.unreachable.items()):
        for endpoint, why in sorted(dead.items()):
            lines.append(f"skipped {kind} {endpoint}: did not answer ({why})")
    if report.reconciled:
        lines.append(
            "RECONCILED: published = stored + dead-lettered + superseded, every row as decided"
        )
    else:
        lines.append(f"NOT RECONCILED: {len(report.differences):,} differences, the first:")
        lines.extend(f"  {problem}" for problem in report.differences[:max_differences])
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run_subcommand("reconcile", argv)


def run_command(args: argparse.Namespace) -> int:
    settings = args.settings_of(args)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        report = reconcile(settings, progress)
    except (CannotReconcileError, KafkaReadError, KafkaError, *CONNECTION_ERRORS) as error:
        print(f"could not reconcile: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(args.max_differences), indent=2))
    else:
        print("\n".join(summary_lines(report, args.max_differences)))
    return 0 if report.reconciled else 1
