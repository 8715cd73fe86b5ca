"""The topology on the single-machine stack: its settings, its nimbus, and deploying to it
(lendstream.storm does the building, submitting and replacing)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.stack.layout import StackLayout
from lendstream.storm.deployment import deploy
from lendstream.storm.jar import TOPOLOGY_NAME, render_config


def local_settings(layout: StackLayout | None = None) -> TopologyConf:
    """The topology's settings for the single-machine stack."""
    layout = layout or StackLayout.default()
    ports = layout.ports
    return TopologyConf(
        kafka_bootstrap_servers=f"{layout.host}:{ports.kafka}",
        hbase_hosts=layout.host,
        hbase_port=ports.hbase_thrift,
        risk_service_urls=f"http://{layout.host}:{ports.risk_service}",
        risk_service_token_file=str(layout.secrets / "risk-service-token"),
        # The same metrics files as on a cluster (docs/monitoring.md); deploy_local makes it.
        metrics_dir=str(layout.pipeline_metrics),
    )


def local_nimbus(layout: StackLayout | None = None) -> str:
    layout = layout or StackLayout.default()
    return f"{layout.host}:{layout.ports.storm_nimbus}"


def deploy_local(
    settings: TopologyConf | None = None,
    name: str = TOPOLOGY_NAME,
    *,
    extra_options: dict[str, Any] | None = None,
    nimbus: str | None = None,
    drain_s: int | None = None,
    report: Callable[[str], None] = lambda line: None,
    skip_if_unchanged: bool = False,
    dry_run: bool = False,
) -> str:
    """Build the jar and submit the topology (default: to the local stack's nimbus), replacing
    a running topology of the same name safely (:func:`replace_running`)."""
    layout = StackLayout.default()
    settings = settings or local_settings(layout)
    if not Path(settings.risk_service_token_file).is_file():
        raise FileNotFoundError(
            f"the risk service's token file {settings.risk_service_token_file!r} is missing: "
            "start the risk service first, or point at its token with "
            "--set risk_service_token_file=PATH --set risk_service_urls=URL[,URL…]"
        )
    if settings.metrics_dir:  # the components write into it, they do not make it
        Path(settings.metrics_dir).mkdir(parents=True, exist_ok=True)
    nimbus = nimbus or local_nimbus(layout)
    config = render_config("local", settings, nimbus, sys.prefix, extra_options)
    return deploy(
        config,
        nimbus,
        name,
        drain_s=drain_s,
        report=report,
        skip_if_unchanged=skip_if_unchanged,
        dry_run=dry_run,
    )
