"""The stack's components: their programs, what they need first, and how to tell they are ready."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lendstream.stack import health
from lendstream.stack.health import Health
from lendstream.stack.layout import StackLayout
from lendstream.stack.mysql_admin import ensure_admin_account
from lendstream.stack.provision import provision_hbase, provision_kafka
from lendstream.stack.services import (
    applicant_api_health,
    ensure_applicant_schema,
    prepare_risk_service,
    producer_health,
    risk_service_health,
)

Check = Callable[[StackLayout], Health]


def _nothing_to_provision(_layout: StackLayout) -> None:
    return None


@dataclass(frozen=True)
class Component:
    name: str
    # supervisord programs, in start order; each runs `<component>/bin/<program>`.
    core_programs: tuple[str, ...]
    requires: tuple[str, ...]
    # Answers once the daemon serves (used while waiting); `check` is the health `status` reports.
    ready: Check
    check: Check
    # Idempotent setup once ready (accounts, topics, tables).
    provision: Callable[[StackLayout], None] = _nothing_to_provision
    # Idempotent setup before its programs start (a schema, a model artifact).
    prepare: Callable[[StackLayout], None] = _nothing_to_provision
    start_timeout_s: float = 120.0
    # The Ansible role whose templates render its configuration and launchers.
    role: str = ""
    # Whether it runs from a JVM artifact bundle (lendstream.stack.artifacts).
    bundled: bool = False

    @property
    def programs(self) -> tuple[str, ...]:
        return self.core_programs

    @property
    def role_name(self) -> str:
        return self.role or self.name


COMPONENTS: dict[str, Component] = {
    "mysql": Component(
        name="mysql",
        core_programs=("mysql-server",),
        requires=(),
        ready=health.mysql_socket_answers,
        check=health.mysql_admin_select,
        provision=ensure_admin_account,
        start_timeout_s=90.0,
    ),
    "zookeeper": Component(
        name="zookeeper",
        bundled=True,
        core_programs=("zookeeper-server",),
        requires=(),
        ready=health.zookeeper_ruok_and_mode,
        check=health.zookeeper_ruok_and_mode,
        start_timeout_s=90.0,
    ),
    "kafka": Component(
        name="kafka",
        bundled=True,
        core_programs=("kafka-server",),
        requires=(),
        ready=health.kafka_brokers,
        check=health.kafka_brokers_and_topics,
        provision=provision_kafka,
        start_timeout_s=180.0,
    ),
    "hbase": Component(
        name="hbase",
        bundled=True,
        core_programs=("hbase-master", "hbase-regionserver", "hbase-thrift"),
        requires=("zookeeper",),
        ready=health.hbase_thrift_tables,
        check=health.hbase_thrift_tables_present,
        provision=provision_hbase,
        start_timeout_s=300.0,
    ),
    "storm": Component(
        name="storm",
        bundled=True,
        core_programs=("storm-nimbus", "storm-supervisor", "storm-ui"),
        requires=("zookeeper",),
        ready=health.storm_cluster,
        check=health.storm_cluster,
        start_timeout_s=240.0,
    ),
    "applicant-api": Component(
        name="applicant-api",
        role="applicant_api",
        core_programs=("applicant-api",),
        requires=("mysql",),
        prepare=ensure_applicant_schema,
        ready=applicant_api_health,
        check=applicant_api_health,
        start_timeout_s=60.0,
    ),
    "risk-service": Component(
        name="risk-service",
        role="risk_service",
        core_programs=("risk-service",),
        requires=(),
        prepare=prepare_risk_service,
        ready=risk_service_health,
        check=risk_service_health,
        start_timeout_s=60.0,
    ),
    "producer": Component(
        name="producer",
        core_programs=("producer",),
        requires=("kafka", "applicant-api"),
        ready=producer_health,
        check=producer_health,
        start_timeout_s=60.0,
    ),
}

# Start order; `down` stops in reverse.
ORDER = (
    "mysql",
    "zookeeper",
    "kafka",
    "hbase",
    "storm",
    "applicant-api",
    "risk-service",
    "producer",
)


def with_dependencies(names: tuple[str, ...] | list[str]) -> list[str]:
    """The named components and everything they need, in start order."""
    unknown = [name for name in names if name not in COMPONENTS]
    if unknown:
        raise ValueError(f"unknown component(s) {unknown}; known: {list(COMPONENTS)}")
    needed: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(COMPONENTS[name].requires)
    return [name for name in ORDER if name in needed]
