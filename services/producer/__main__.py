"""``python -m lendstream.services.producer``: publish applicants from the API to Kafka.

Runs until SIGTERM/SIGINT (the current batch is flushed and the cursor saved), or with
``--until-empty`` until the API has nothing more, or with ``--max-records N`` until N are
published. Prints the run's figures as one JSON line at the end. Serves ``/metrics`` when its
settings name a port (:mod:`.metrics`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
import threading
from types import FrameType

from kafka.errors import KafkaError

from lendstream import cli
from lendstream.services.environment import SettingsError
from lendstream.services.producer import metrics
from lendstream.services.producer.api_client import ApiUnavailableError
from lendstream.services.producer.cursor import CursorError
from lendstream.services.producer.publisher import ApplicantProducer, PublishError, RunLimits
from lendstream.services.producer.reconcile import ReconcileError
from lendstream.services.producer.settings import ProducerSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream producer`'s arguments (lendstream.cli.producer)."""
    parser.add_argument("--until-empty", action="store_true", help="stop at the first empty page")
    parser.add_argument("--max-records", type=int, default=None, metavar="N")


def main(argv: list[str] | None = None) -> int:
    return cli.run_subcommand("producer", argv)


def run_command(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)

    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info(
            "%s: finishing the batch, then stopping", signal.Signals(signum).name
        )
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        settings = ProducerSettings.from_env()
        if settings.metrics_port is not None:
            metrics.serve(settings.metrics_address, settings.metrics_port)
        producer = ApplicantProducer(settings, stop)
        stats = producer.run(RunLimits(until_empty=args.until_empty, max_records=args.max_records))
    except (
        SettingsError,
        CursorError,
        ReconcileError,
        ApiUnavailableError,
        PublishError,
        KafkaError,
    ) as error:
        logging.getLogger(__name__).error("stopped: %s", error)
        return 2
    figures = dataclasses.asdict(stats)
    figures["records_per_s"] = round(stats.published / stats.seconds, 1) if stats.seconds else None
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
