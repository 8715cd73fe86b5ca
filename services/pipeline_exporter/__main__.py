"""``python -m lendstream.services.pipeline_exporter``: the pipeline's metrics on ``/metrics``
(consumer lag and committed offsets by partition, dead letters by stage, the newest committed
applicant's age; :mod:`.metrics`), read from Kafka every few seconds, and the ``/status`` page
of charts over its last samples (:mod:`.status_page`). Runs until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from lendstream.services.environment import SettingsError
from lendstream.services.pipeline_exporter import status_page
from lendstream.services.pipeline_exporter.metrics import PipelineCollector, Sampler
from lendstream.services.pipeline_exporter.reader import PipelineReader
from lendstream.services.pipeline_exporter.settings import ExporterSettings

LOG = logging.getLogger(__name__)
STATUS_PATH = "/status"


class QuietHandler(WSGIRequestHandler):
    """Logs no request (Prometheus scrapes every 15 s)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def application(sampler: Sampler, settings: ExporterSettings) -> Any:
    """``/status``: the page; any other path: the metrics (as prometheus_client serves them)."""
    metrics = make_wsgi_app(REGISTRY)
    window_s = settings.interval_s * (settings.history_size - 1)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != STATUS_PATH:
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        started = time.perf_counter()
        body = status_page.render(
            sampler.history,
            interval_s=settings.interval_s,
            window_s=window_s,
            topic=settings.topic,
            group=settings.group,
            kafka_up=sampler.snapshot.kafka_up,
        ).encode()
        elapsed_ms = (time.perf_counter() - started) * 1000
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                ("Server-Timing", f"render;dur={elapsed_ms:.1f}"),
            ],
        )
        return [body]

    return app


def serve(settings: ExporterSettings, sampler: Sampler) -> WSGIServer:
    """Serves ``/metrics`` and ``/status`` from a daemon thread (a thread per request)."""

    class Server(ThreadingWSGIServer):
        pass

    family, _, _, _, _ = socket.getaddrinfo(
        settings.address, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    Server.address_family = family
    server = make_server(
        settings.address,
        settings.port,
        application(sampler, settings),
        server_class=Server,
        handler_class=QuietHandler,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        settings = ExporterSettings.from_env()
    except SettingsError as error:
        LOG.error("stopped: %s", error)
        return 2
    sampler = Sampler(PipelineReader(settings), settings.interval_s, settings.history_size)

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        sampler.stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    REGISTRY.register(PipelineCollector(sampler))
    try:
        serve(settings, sampler)
    except OSError as error:
        LOG.error("stopped: cannot serve on %s:%s: %s", settings.address, settings.port, error)
        return 2
    sampler.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
