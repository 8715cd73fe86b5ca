"""``python -m lendstream.services.pipeline_exporter``: the pipeline's metrics on ``/metrics``
(consumer lag and committed offsets by partition, dead letters by stage; :mod:`.metrics`),
read from Kafka every few seconds. Runs until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from prometheus_client import REGISTRY, start_http_server

from lendstream.services.environment import SettingsError
from lendstream.services.pipeline_exporter.metrics import PipelineCollector, Sampler
from lendstream.services.pipeline_exporter.reader import PipelineReader
from lendstream.services.pipeline_exporter.settings import ExporterSettings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        settings = ExporterSettings.from_env()
    except SettingsError as error:
        logging.getLogger(__name__).error("stopped: %s", error)
        return 2
    sampler = Sampler(PipelineReader(settings), settings.interval_s)

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        sampler.stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    REGISTRY.register(PipelineCollector(sampler))
    try:
        start_http_server(settings.port, addr=settings.address)
    except OSError as error:
        logging.getLogger(__name__).error(
            "stopped: cannot serve /metrics on %s:%s: %s", settings.address, settings.port, error
        )
        return 2
    sampler.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
