"""The Storm UI app: Storm UI's REST API (a subset) and one HTML overview, read from nimbus.

Routes: ``GET /api/v1/cluster/summary``, ``/api/v1/supervisor/summary``,
``/api/v1/nimbus/summary``, ``/api/v1/topology/summary``, ``/api/v1/topology/<id>``
(``?window=600|10800|86400|:all-time``, ``?sys=1``), ``/healthz``, ``/`` (HTML) and
``/metrics`` (Prometheus, :mod:`.metrics`).
Each request opens one Thrift connection to the leading nimbus and closes it. Nimbus unreachable
→ 503 with ``{"error", "errorMessage"}`` (``/metrics`` answers 200 with
``lendstream_storm_nimbus_up 0``); unknown topology → 404.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Any

from flask import Flask, Response, jsonify, render_template_string, request
from streamparse.thrift import AuthorizationException, NotAliveException
from thriftpy2.thrift import TApplicationException
from werkzeug.exceptions import HTTPException

from lendstream.storm import nimbus as nimbus_client
from lendstream.storm.nimbus import NimbusSession, NimbusUnavailableError
from lendstream.storm_ui import mapping, metrics
from lendstream.storm_ui.page import OVERVIEW_TEMPLATE, UNAVAILABLE_TEMPLATE
from lendstream.storm_ui.settings import UiSettings


def _on_leader(settings: UiSettings) -> AbstractContextManager[NimbusSession]:
    """A session on the leading nimbus (lendstream.storm.nimbus), closed after the request."""
    seeds = nimbus_client.as_seeds(settings.nimbus_seeds)
    return nimbus_client.leader_session(seeds, settings.thrift_timeout_ms)


def create_app(settings: UiSettings | None = None) -> Flask:
    settings = settings or UiSettings.from_env()
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    @app.get("/api/v1/cluster/summary")
    def cluster_summary() -> Any:
        with _on_leader(settings) as nimbus:
            return jsonify(mapping.cluster_summary_json(nimbus.client.getClusterInfo()))

    @app.get("/api/v1/supervisor/summary")
    def supervisor_summary() -> Any:
        with _on_leader(settings) as nimbus:
            return jsonify(mapping.supervisor_summary_json(nimbus.client.getClusterInfo()))

    @app.get("/api/v1/nimbus/summary")
    def nimbus_summary() -> Any:
        with _on_leader(settings) as nimbus:
            cluster = nimbus.client.getClusterInfo()
        return jsonify(mapping.nimbus_summary_json(cluster, settings.nimbus_seeds))

    @app.get("/api/v1/topology/summary")
    def topology_summary() -> Any:
        with _on_leader(settings) as nimbus:
            return jsonify(mapping.topology_summary_json(nimbus.client.getClusterInfo()))

    @app.get("/api/v1/topology/<topology_id>")
    def topology(topology_id: str) -> Any:
        window = request.args.get("window", mapping.ALL_TIME)
        if window not in mapping.WINDOWS:
            return _error(400, f"window must be one of {', '.join(mapping.WINDOWS)}")
        include_system = request.args.get("sys", "0") == "1"
        with _on_leader(settings) as nimbus:
            document = _topology_document(nimbus, topology_id, window, include_system)
        return jsonify(document)

    @app.get("/healthz")
    def health() -> Any:
        with _on_leader(settings) as nimbus:
            leader = nimbus.client.getLeader()
        return jsonify(status="ok", nimbus=str(nimbus.address), stormVersion=leader.version)

    @app.get("/metrics")
    def prometheus_metrics() -> Any:
        body, content_type = metrics.exposition(lambda: metrics.read_cluster_info(settings))
        return Response(body, content_type=content_type)

    @app.get("/")
    def overview() -> Any:
        with _on_leader(settings) as nimbus:
            cluster = nimbus.client.getClusterInfo()
            topologies = [
                _topology_document(nimbus, summary.id, mapping.ALL_TIME, include_system=False)
                for summary in sorted(cluster.topologies, key=lambda t: t.name)
            ]
            address = str(nimbus.address)
        return render_template_string(
            OVERVIEW_TEMPLATE,
            nimbus_address=address,
            cluster=mapping.cluster_summary_json(cluster),
            nimbuses=mapping.nimbus_summary_json(cluster, settings.nimbus_seeds)["nimbuses"],
            supervisors=mapping.supervisor_summary_json(cluster)["supervisors"],
            topologies=topologies,
        )

    @app.errorhandler(NimbusUnavailableError)
    def nimbus_unavailable(error: NimbusUnavailableError) -> Any:
        seeds = ", ".join(str(seed) for seed in settings.nimbus_seeds)
        if request.path == "/":
            page = render_template_string(UNAVAILABLE_TEMPLATE, seeds=seeds, reason=str(error))
            return page, 503
        return _error(503, f"nimbus is unavailable (seeds: {seeds}): {error}")

    @app.errorhandler(NotAliveException)
    def not_alive(error: NotAliveException) -> Any:
        return _error(404, f"no such topology: {error.msg}")

    @app.errorhandler(AuthorizationException)
    def not_authorised(error: AuthorizationException) -> Any:
        return _error(403, f"nimbus refused: {error.msg}")

    @app.errorhandler(TApplicationException)
    def nimbus_failed(error: TApplicationException) -> Any:
        return _error(502, f"nimbus answered with an error: {error.message or error}")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        return _error(error.code or 500, error.description or error.name)

    return app


def _topology_document(
    nimbus: NimbusSession, topology_id: str, window: str, include_system: bool
) -> dict[str, Any]:
    client = nimbus.client
    info = client.getTopologyInfo(topology_id)
    user_topology = client.getUserTopology(topology_id)
    conf = client.getTopologyConf(topology_id)
    return mapping.topology_json(
        info,
        user_topology,
        conf,
        int(time.time()),
        window=window,
        include_system=include_system,
    )


def _error(status: int, message: str) -> Any:
    """Storm UI's error document: ``error`` (the status) and ``errorMessage``."""
    response = jsonify(error=_STATUS_TEXT.get(status, "Error"), errorMessage=message)
    response.status_code = status
    return response


_STATUS_TEXT = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
