"""The operator's check: does what the pipeline stored account for what was published?

``python -m lendstream.reconcile`` (lendstream.reconcile.cli, where the whole check is described)
runs on a cluster node or against the single-machine stack. One concern per module:

- ``endpoints``: which Kafka brokers, HBase Thrift servers and risk services answer (a node down
  is skipped and reported);
- ``expectation``: what must have happened to each record, with the pipeline's own functions;
- ``hbase``: reading the table; the Kafka reads are lendstream.kafka_topics;
- ``comparison``: the table and the dead-letter topic against the expectation, the Report;
- ``cli``: the command (arguments, summary, exit status).

The names below are the package's API, for the tests and tools that run parts of the check.
The Kafka readers among them live in lendstream.kafka_topics (import them from there); they are
named here too for the callers written when they lived in this module.
"""

from lendstream.kafka_topics import (
    KafkaRecord,
    committed_offsets,
    end_offsets,
    read_topic,
    wait_until_drained,
)
from lendstream.reconcile.cli import Settings, main, parse_arguments, reconcile, summary_lines
from lendstream.reconcile.comparison import Report, compare, refused_positions, row_differences
from lendstream.reconcile.endpoints import Probed, probe
from lendstream.reconcile.errors import CannotReconcileError
from lendstream.reconcile.expectation import (
    Expectation,
    ExpectedRow,
    Position,
    Triaged,
    expect,
    risk_service_scorer,
    triage_published,
)
from lendstream.reconcile.hbase import Rows, read_table

__all__ = [
    "CannotReconcileError",
    "Expectation",
    "ExpectedRow",
    "KafkaRecord",
    "Position",
    "Probed",
    "Report",
    "Rows",
    "Settings",
    "Triaged",
    "committed_offsets",
    "compare",
    "end_offsets",
    "expect",
    "main",
    "parse_arguments",
    "probe",
    "read_table",
    "read_topic",
    "reconcile",
    "refused_positions",
    "risk_service_scorer",
    "row_differences",
    "summary_lines",
    "triage_published",
    "wait_until_drained",
]
