"""``GET /metrics``: nimbus's view of the cluster for Prometheus (job ``storm_ui``).

Computed at each scrape from one ``getClusterInfo`` on the leading nimbus, each Thrift call
bounded by ``LENDSTREAM_STORM_UI_METRICS_TIMEOUT_MS``; nothing is kept between scrapes, so any
number of gunicorn workers serve the same figures.

- ``lendstream_storm_nimbus_up``: 1 when nimbus answered this scrape, 0 when no seed did (or it
  failed the call). The scrape itself still answers 200, so the alert rules see the 0.
- ``lendstream_storm_nimbus_leader_registered``: 1 when a nimbus of the registry (/nimbuses) is
  the leader, 0 when none is: no leader elected, or a leader missing from the registry, which
  ``getLeader`` then cannot name to the supervisors (only while nimbus answers).
- ``lendstream_storm_supervisors``: the supervisors nimbus lists (only while nimbus answers).
- ``lendstream_storm_topology_active{topology}``: 1 when nimbus lists the topology ACTIVE, 0 in
  any other status (INACTIVE, REBALANCING, KILLED); a topology nimbus does not list has no series.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from streamparse.thrift import AuthorizationException
from thriftpy2.thrift import TApplicationException

from lendstream.storm import nimbus as nimbus_client
from lendstream.storm.nimbus import NimbusUnavailableError
from lendstream.storm_ui.settings import UiSettings

LOG = logging.getLogger(__name__)
ACTIVE = "ACTIVE"
# What a scrape reports as nimbus down rather than failing with a 500.
NIMBUS_ERRORS = (NimbusUnavailableError, TApplicationException, AuthorizationException)


def read_cluster_info(settings: UiSettings) -> Any:
    """``getClusterInfo`` of the leading nimbus, each call bounded by the metrics timeout."""
    seeds = nimbus_client.as_seeds(settings.nimbus_seeds)
    with nimbus_client.leader_session(seeds, settings.metrics_timeout_ms) as nimbus:
        return nimbus.client.getClusterInfo()


class NimbusCollector(Collector):
    """The three gauges, from ``read_cluster()`` called once per collection."""

    def __init__(self, read_cluster: Callable[[], Any]) -> None:
        self._read_cluster = read_cluster

    def collect(self) -> Iterator[Metric]:
        nimbus_up = GaugeMetricFamily(
            "lendstream_storm_nimbus_up",
            "1 when nimbus answered this scrape's getClusterInfo, 0 when no nimbus seed did.",
        )
        try:
            cluster = self._read_cluster()
        except NIMBUS_ERRORS as error:
            LOG.warning("metrics: nimbus did not answer: %s", error)
            nimbus_up.add_metric([], 0.0)
            yield nimbus_up
            return
        nimbus_up.add_metric([], 1.0)
        yield nimbus_up
        yield GaugeMetricFamily(
            "lendstream_storm_nimbus_leader_registered",
            "1 when a nimbus of the registry (/nimbuses) is the leader, 0 when none is.",
            value=1.0 if any(n.isLeader for n in cluster.nimbuses or ()) else 0.0,
        )
        yield GaugeMetricFamily(
            "lendstream_storm_supervisors",
            "Supervisors nimbus lists (its cluster summary).",
            value=len(cluster.supervisors or ()),
        )
        active: dict[str, float] = {}
        for topology in cluster.topologies or ():
            is_active = 1.0 if topology.status == ACTIVE else 0.0
            active[topology.name] = max(is_active, active.get(topology.name, 0.0))
        topologies = GaugeMetricFamily(
            "lendstream_storm_topology_active",
            "1 when nimbus lists the topology with status ACTIVE, 0 in another status.",
            labels=["topology"],
        )
        for name, value in sorted(active.items()):
            topologies.add_metric([name], value)
        yield topologies


def exposition(read_cluster: Callable[[], Any]) -> tuple[bytes, str]:
    """The metrics text of one collection and its content type."""
    registry = CollectorRegistry()
    registry.register(NimbusCollector(read_cluster))
    return generate_latest(registry), CONTENT_TYPE_LATEST
