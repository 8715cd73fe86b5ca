"""``lendstream dlq``: list, inspect and re-drive the pipeline's dead letters.

    lendstream dlq list    [selection] [--json]     one line per dead letter
    lendstream dlq show    [selection]              each dead letter in full (JSON)
    lendstream dlq redrive [selection] [--dry-run] [--again]

A dead letter is identified by its ``source`` (applicant topic, partition, offset): the topology
delivers dead letters at least once, so copies of one are shown once (with their count).

Selection (all given filters must match): ``--stage`` (parse, clean, score; repeatable),
``--reason`` (a case-insensitive substring), ``--since`` / ``--until`` (when it was
dead-lettered: ISO 8601, UTC unless a zone is given), ``--source PARTITION:OFFSET`` (of the
applicant topic; repeatable), ``--member ID`` (repeatable), ``--limit N``.

**Re-drive** publishes each chosen dead letter's original record back to the applicant topic,
keyed by its member id (acks=all), with a header ``lendstream-redrive-of: topic/partition/offset``,
so the topology takes it again — once the cause is fixed (a rule, the risk service). Each re-drive
is recorded, after the publish is acknowledged, in the *re-drive log*, a compacted topic
(``<dead-letter topic>.redrives`` unless ``--redrive-log-topic``) keyed by the source. A second
re-drive of the same dead letters re-publishes nothing: it reports each as already re-driven
(when, and to which offset); ``--again`` re-drives them anyway. Even then nothing is duplicated
in HBase (a row's key is its member id: the record overwrites its own row). If the command dies
between a publish and its log entry, that one record may be re-published by the next run: the
same row again, never a second one. Records whose value was missing or not UTF-8 cannot be
re-driven (the dead letter holds only a preview of their bytes); they are reported.

Where (defaults: the single-machine stack's, as the topology's settings):
``--bootstrap`` Kafka brokers ``host:port,…`` (a broker that is down is skipped), ``--topic`` the
applicant topic, ``--dead-letter-topic``. How: lendstream.kafka_client.operator_security (the
LENDSTREAM_KAFKA_* variables, else a secured cluster node's operator settings, else plaintext).

Exit status: 0 done, 1 some chosen dead letters cannot be re-driven (the others were), 2 Kafka
could not be read or written.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from lendstream import cli
from lendstream.kafka_client import PLAINTEXT_SECURITY, KafkaSecurity, operator_security
from lendstream.kafka_topics import KafkaReadError, KafkaRecord, end_offsets, read_topic
from lendstream.pipeline.dead_letter import REDRIVE_HEADER, STAGES, Source
from lendstream.pipeline.endpoints import split_list
from lendstream.pipeline.topology_conf import TopologyConf

REDRIVE_LOG_SUFFIX = ".redrives"
UNREDRIVABLE_REASONS = ("value is missing", "value is not UTF-8 text")
READ_TIMEOUT_S = 120.0
SEND_TIMEOUT_S = 60.0
REASON_WIDTH = 90

SourceId = tuple[str, int, int]  # applicant topic, partition, offset


class DlqError(RuntimeError):
    """Kafka could not be written (the command's exit status 2)."""


# ---- dead letters -------------------------------------------------------------------------------


@dataclass
class Letter:
    """One dead letter (its first message), and how many copies of it the topic holds."""

    partition: int  # of the dead-letter topic
    offset: int
    timestamp_ms: int
    member_id: str | None
    value: dict[str, Any]
    copies: int = 1

    @property
    def source(self) -> SourceId:
        source = self.value["source"]
        return (str(source["topic"]), int(source["partition"]), int(source["offset"]))

    @property
    def stage(self) -> str:
        return str(self.value.get("stage", ""))

    @property
    def reason(self) -> str:
        return str(self.value.get("reason", ""))

    @property
    def dead_lettered_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dead_letter": {"partition": self.partition, "offset": self.offset},
            "dead_lettered_at": self.dead_lettered_at.isoformat(timespec="milliseconds"),
            "copies": self.copies,
            "member_id": self.member_id,
            **self.value,
        }


def parse_letters(messages: Iterable[KafkaRecord]) -> tuple[list[Letter], int]:
    """Dead letters by source, first message first; and how many messages were not dead letters."""
    by_source: dict[SourceId, Letter] = {}
    unreadable = 0
    for message in messages:
        try:
            value = json.loads(message.value or b"")
            source = value["source"]
            source_id = (str(source["topic"]), int(source["partition"]), int(source["offset"]))
        except (ValueError, KeyError, TypeError):
            unreadable += 1
            continue
        earlier = by_source.get(source_id)
        if earlier is not None:
            earlier.copies += 1
            continue
        member_id = message.key.decode("utf-8", "replace") if message.key is not None else None
        by_source[source_id] = Letter(
            message.partition, message.offset, message.timestamp_ms, member_id, value
        )
    letters = sorted(by_source.values(), key=lambda letter: (letter.timestamp_ms, letter.source))
    return letters, unreadable


@dataclass(frozen=True)
class Selection:
    stages: frozenset[str] = frozenset()
    reason: str = ""
    since: datetime | None = None
    until: datetime | None = None
    sources: frozenset[tuple[int, int]] = frozenset()  # (partition, offset) of the applicant topic
    members: frozenset[str] = frozenset()
    limit: int | None = None

    def matches(self, letter: Letter) -> bool:
        at = letter.dead_lettered_at
        return (
            (not self.stages or letter.stage in self.stages)
            and self.reason.casefold() in letter.reason.casefold()
            and (self.since is None or at >= self.since)
            and (self.until is None or at < self.until)
            and (not self.sources or letter.source[1:] in self.sources)
            and (not self.members or letter.member_id in self.members)
        )

    def choose(self, letters: Iterable[Letter]) -> list[Letter]:
        chosen = [letter for letter in letters if self.matches(letter)]
        return chosen if self.limit is None else chosen[: self.limit]


# ---- re-drive -----------------------------------------------------------------------------------


def source_key(source: SourceId) -> str:
    return Source(*source).key()


def redrive_payload(letter: Letter) -> bytes | None:
    """The original record's value to publish again; ``None`` if the dead letter does not hold it
    (the value was missing, or not UTF-8: only a preview was kept)."""
    record = letter.value.get("record")
    if letter.stage == "parse":
        if letter.reason in UNREDRIVABLE_REASONS or not isinstance(record, str):
            return None
        return record.encode("utf-8")  # the text as consumed, which did not parse
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def redrive_key(letter: Letter) -> bytes | None:
    if letter.member_id:
        return letter.member_id.encode("utf-8")
    record = letter.value.get("record")
    if isinstance(record, dict) and record.get("member_id") not in (None, ""):
        return str(record["member_id"]).encode("utf-8")
    return None


def read_redrive_log(
    bootstrap: Sequence[str], log_topic: str, security: KafkaSecurity = PLAINTEXT_SECURITY
) -> dict[str, dict[str, Any]]:
    """Source key → its latest re-drive entry."""
    entries: dict[str, dict[str, Any]] = {}
    if not end_offsets(bootstrap, log_topic, security):
        return entries  # no re-drive yet: the log topic does not exist
    for message in read_topic(bootstrap, log_topic, READ_TIMEOUT_S, security).records:
        try:
            entries[(message.key or b"").decode()] = json.loads(message.value or b"")
        except ValueError:
            continue
    return entries


def ensure_log_topic(
    bootstrap: Sequence[str], log_topic: str, security: KafkaSecurity = PLAINTEXT_SECURITY
) -> None:
    """Create the compacted re-drive log topic if it does not exist yet."""
    admin = KafkaAdminClient(
        bootstrap_servers=list(bootstrap), request_timeout_ms=30_000, **security.client_options()
    )
    try:
        if log_topic in admin.list_topics():
            return
        brokers = len(admin.describe_cluster()["brokers"])
        topic = NewTopic(
            log_topic,
            num_partitions=1,
            replication_factor=min(3, brokers),
            topic_configs={"cleanup.policy": "compact"},
        )
        with contextlib.suppress(TopicAlreadyExistsError):  # someone else just made it
            admin.create_topics([topic])
    finally:
        admin.close()


@dataclass
class RedriveReport:
    redriven: list[tuple[Letter, int, int]] = field(
        default_factory=list
    )  # letter, partition, offset
    already: list[tuple[Letter, dict[str, Any]]] = field(default_factory=list)
    impossible: list[Letter] = field(default_factory=list)


def redrive(
    bootstrap: Sequence[str],
    topic: str,
    log_topic: str,
    letters: Sequence[Letter],
    *,
    again: bool = False,
    dry_run: bool = False,
    security: KafkaSecurity = PLAINTEXT_SECURITY,
) -> RedriveReport:
    """Publish the chosen letters' records to ``topic`` (each recorded in ``log_topic`` once its
    publish is acknowledged); those already in the log are skipped unless ``again``."""
    report = RedriveReport()
    log = read_redrive_log(bootstrap, log_topic, security)
    todo: list[tuple[Letter, bytes]] = []
    for letter in letters:
        payload = redrive_payload(letter)
        if payload is None:
            report.impossible.append(letter)
        elif source_key(letter.source) in log and not again:
            report.already.append((letter, log[source_key(letter.source)]))
        else:
            todo.append((letter, payload))
    if dry_run or not todo:
        report.redriven = [(letter, -1, -1) for letter, _ in todo]
        return report
    ensure_log_topic(bootstrap, log_topic, security)
    producer = KafkaProducer(
        bootstrap_servers=list(bootstrap), acks="all", linger_ms=5, **security.client_options()
    )
    try:
        futures = [
            (
                letter,
                producer.send(
                    topic,
                    key=redrive_key(letter),
                    value=payload,
                    headers=[(REDRIVE_HEADER, source_key(letter.source).encode("utf-8"))],
                ),
            )
            for letter, payload in todo
        ]
        producer.flush(timeout=SEND_TIMEOUT_S)
        entries = []
        for letter, future in futures:
            metadata = future.get(timeout=SEND_TIMEOUT_S)
            report.redriven.append((letter, metadata.partition, metadata.offset))
            entry = {
                "source": letter.value["source"],
                "stage": letter.stage,
                "reason": letter.reason,
                "dead_letter": {"partition": letter.partition, "offset": letter.offset},
                "redriven_to": {
                    "topic": topic,
                    "partition": metadata.partition,
                    "offset": metadata.offset,
                },
                "redriven_at_ms": int(time.time() * 1000),
            }
            entries.append(
                producer.send(
                    log_topic,
                    key=source_key(letter.source).encode("utf-8"),
                    value=json.dumps(entry).encode("utf-8"),
                )
            )
        producer.flush(timeout=SEND_TIMEOUT_S)
        for future in entries:
            future.get(timeout=SEND_TIMEOUT_S)
    except KafkaError as error:
        raise DlqError(f"re-drive failed after {len(report.redriven)} records: {error}") from error
    finally:
        producer.close(timeout=SEND_TIMEOUT_S)
    return report


# ---- the command --------------------------------------------------------------------------------


def _when(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _position(text: str) -> tuple[int, int]:
    partition, _, offset = text.partition(":")
    try:
        return int(partition), int(offset)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PARTITION:OFFSET, got {text!r}") from None


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    return cli.parse(["dlq", *argv])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream dlq`'s arguments (lendstream.cli.dlq)."""
    defaults = TopologyConf()
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where the pipeline is")
    where.add_argument("--bootstrap", default=defaults.kafka_bootstrap_servers, help="host:port,…")
    where.add_argument("--topic", default=defaults.kafka_topic, help="the applicant topic")
    where.add_argument("--dead-letter-topic", default=defaults.kafka_dead_letter_topic)
    where.add_argument(
        "--redrive-log-topic", help=f"default: the dead-letter topic + {REDRIVE_LOG_SUFFIX!r}"
    )
    chosen = common.add_argument_group("which dead letters (all given filters must match)")
    chosen.add_argument("--stage", action="append", choices=STAGES, default=[])
    chosen.add_argument("--reason", default="", help="substring of the reason (any case)")
    chosen.add_argument("--since", type=_when, help="dead-lettered at or after (ISO 8601)")
    chosen.add_argument("--until", type=_when, help="dead-lettered before (ISO 8601)")
    chosen.add_argument(
        "--source", action="append", type=_position, default=[], metavar="PARTITION:OFFSET"
    )
    chosen.add_argument("--member", action="append", default=[], metavar="ID")
    chosen.add_argument("--limit", type=int, help="at most this many (oldest first)")

    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", parents=[common], help="one line per dead letter")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    commands.add_parser("show", parents=[common], help="each dead letter in full, as JSON")
    again = commands.add_parser(
        "redrive", parents=[common], help="publish the records again to the applicant topic"
    )
    again.add_argument("--dry-run", action="store_true", help="say what would be re-driven")
    again.add_argument("--again", action="store_true", help="also those re-driven before")


def selection_of(args: argparse.Namespace) -> Selection:
    return Selection(
        stages=frozenset(args.stage),
        reason=args.reason,
        since=args.since,
        until=args.until,
        sources=frozenset(args.source),
        members=frozenset(args.member),
        limit=args.limit,
    )


def letter_line(letter: Letter) -> str:
    topic, partition, offset = letter.source
    copies = f" (x{letter.copies})" if letter.copies > 1 else ""
    reason = letter.reason.replace("\n", " ")
    if len(reason) > REASON_WIDTH:
        reason = reason[: REASON_WIDTH - 1] + "…"
    return (
        f"{letter.dead_lettered_at:%Y-%m-%d %H:%M:%S}  {letter.stage:<5}  "
        f"{topic}/{partition}/{offset}{copies}  {letter.member_id or '-'}  {reason}"
    )


def run(args: argparse.Namespace, out: Any = sys.stdout) -> int:
    bootstrap = split_list(args.bootstrap)
    log_topic = args.redrive_log_topic or args.dead_letter_topic + REDRIVE_LOG_SUFFIX
    # The node's operator settings (a secured cluster's: read-only, so redrive is refused there
    # unless LENDSTREAM_KAFKA_* name a user that may write), else plaintext.
    security = operator_security()
    contents = read_topic(bootstrap, args.dead_letter_topic, READ_TIMEOUT_S, security)
    letters, unreadable = parse_letters(contents.records)
    chosen = selection_of(args).choose(letters)
    if args.command == "list":
        for letter in chosen:
            print(json.dumps(letter.as_dict()) if args.json else letter_line(letter), file=out)
        if not args.json:
            print(
                f"{len(chosen):,} of {len(letters):,} dead letters"
                + (f" ({unreadable:,} messages were not dead letters)" if unreadable else ""),
                file=sys.stderr,
            )
        return 0
    if args.command == "show":
        for letter in chosen:
            print(json.dumps(letter.as_dict(), indent=2, ensure_ascii=False), file=out)
        return 0
    report = redrive(
        bootstrap,
        args.topic,
        log_topic,
        chosen,
        again=args.again,
        dry_run=args.dry_run,
        security=security,
    )
    verb = "would re-drive" if args.dry_run else "re-driven"
    for letter, partition, offset in report.redriven:
        where = "" if args.dry_run else f" → {args.topic}/{partition}/{offset}"
        print(f"{verb}: {letter_line(letter)}{where}", file=out)
    for letter, entry in report.already:
        to = entry.get("redriven_to", {})
        at = datetime.fromtimestamp(entry.get("redriven_at_ms", 0) / 1000, tz=UTC)
        print(
            f"already re-driven {at:%Y-%m-%d %H:%M:%S} to {to.get('topic')}/{to.get('partition')}/"
            f"{to.get('offset')} (skipped; --again re-drives it): {letter_line(letter)}",
            file=out,
        )
    for letter in report.impossible:
        print(f"cannot re-drive (no record kept): {letter_line(letter)}", file=out)
    print(
        f"{verb} {len(report.redriven):,}, already re-driven {len(report.already):,}, "
        f"cannot re-drive {len(report.impossible):,} (of {len(chosen):,} chosen)",
        file=out,
    )
    return 1 if report.impossible else 0


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run_subcommand("dlq", argv)


def run_command(args: argparse.Namespace) -> int:
    try:
        return run(args)
    except (DlqError, KafkaReadError, KafkaError) as error:
        print(f"lendstream dlq: {type(error).__name__}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
